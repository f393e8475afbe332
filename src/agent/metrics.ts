// The agent's Prometheus instruments, in one place (served at its /metrics).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { processMetrics } from '../observability/index.js';
import { VIP_STATES, type VipState } from '../contract/index.js';

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly r = this.registry;
  readonly state = new Gauge({
    name: 'gtm_agent_vip_state',
    help: '1 for the current state of each VIP',
    labelNames: ['vip', 'state'],
    registers: [this.r],
  });
  readonly transitions = new Counter({
    name: 'gtm_agent_vip_transitions_total',
    help: 'VIP state transitions',
    labelNames: ['vip', 'from', 'to'],
    registers: [this.r],
  });
  readonly flaps = new Counter({
    name: 'gtm_agent_vip_flaps_total',
    help: 'Health-driven announce/withdraw changes after the first announce',
    labelNames: ['vip'],
    registers: [this.r],
  });
  readonly probeSeconds = new Histogram({
    name: 'gtm_agent_probe_seconds',
    help: 'Probe latency',
    labelNames: ['vip', 'node', 'result'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.r],
  });
  readonly failover = new Histogram({
    name: 'gtm_agent_failover_seconds',
    help: "From a VIP's first failing probe to health's withdrawal or drain of it reaching gobgpd (the BGP layer of a failover)",
    labelNames: ['vip'],
    buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30],
    registers: [this.r],
  });
  readonly bgpSeconds = new Histogram({
    name: 'gtm_agent_bgp_op_seconds',
    help: 'gRPC AddPath/DeletePath latency',
    labelNames: ['op'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.r],
  });
  readonly grpcErrors = new Counter({
    name: 'gtm_agent_grpc_errors_total',
    help: 'gRPC errors talking to gobgpd',
    labelNames: ['method'],
    registers: [this.r],
  });
  readonly session = new Gauge({
    name: 'gtm_agent_bgp_session_up',
    help: '1 when the BGP session to the peer is Established',
    labelNames: ['peer'],
    registers: [this.r],
  });
  readonly bfd = new Gauge({
    name: 'gtm_agent_bfd_session_up',
    help: '1 when the BFD session to the peer is Up (bgp.bfd_socket)',
    labelNames: ['peer'],
    registers: [this.r],
  });
  readonly held = new Gauge({
    name: 'gtm_agent_vip_guardrail_held',
    help: '1 while the BGP guard rail keeps this shared anycast VIP announced (drained) although unhealthy',
    labelNames: ['vip', 'shared'],
    registers: [this.r],
  });
  readonly announcedPaths = new Gauge({
    name: 'gtm_agent_announced_paths',
    help: 'Paths announced through gobgpd',
    registers: [this.r],
  });

  constructor() {
    processMetrics(this.r);
  }

  setVipState(vip: string, current: VipState): void {
    for (const s of VIP_STATES) this.state.set({ vip, state: s }, s === current ? 1 : 0);
  }
}
