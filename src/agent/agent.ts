// The PoP agent: probes the LB nodes of each VIP, turns the results into a per-VIP state,
// and keeps gobgpd announcing exactly the paths those states call for.
import { existsSync, mkdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config, Pop, Vip } from '../config/index.js';
import { KEYS, openStore, type AgentReport, type StateStore } from '../state/index.js';
import { BirdClient, GobgpClient, PeerLiveness, type AnnouncedPath, reconcile, startGobgpd, type Sidecar } from '../bgp/index.js';
import { clusterVerdict, feed, isChanging, newRiseFall, probe, readErrorRate, type RiseFall, type Verdict } from '../health/index.js';
import type { Logger } from '../observability/index.js';
import { announceOf, newVipMachine, step, type VipMachine } from './vip-state.js';

interface NodeRuntime {
  name: string;
  address: string;
  rf: RiseFall;
  timer?: NodeJS.Timeout;
}

interface VipRuntime {
  spec: Vip;
  nodes: NodeRuntime[];
  machine: VipMachine;
  verdict: Verdict;
  verdictReason: string;
  errorRate?: number;
  drainTimer?: NodeJS.Timeout;
  passiveTimer?: NodeJS.Timeout;
}

export interface AgentOptions {
  stateDir: string;
  /** Path of gobgp/run-gobgpd.sh. */
  wrapper: string;
  log: Logger;
  /** Override the API listen address (tests). */
  apiPort?: number;
}

export class Agent {
  private readonly vips: VipRuntime[];
  private readonly client: GobgpClient;
  private sidecar?: Sidecar;
  private gobgpdPid = -1;
  /** BGP sessions (from gobgpd) and BFD (from the helper) per neighbor. */
  private readonly liveness = new PeerLiveness();
  private bfd?: BirdClient;
  private bfdTimer?: NodeJS.Timeout;
  private bfdLost = false;
  private bgpApiUp = false;
  private announced: AnnouncedPath[] = [];
  private maintenanceApi?: { reason: string; since: number };
  private maintenanceFile = false;
  private shuttingDown = false;
  private stopped = false;
  private reconciling?: Promise<void>;
  private dirty = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private cancelWatch?: () => void;
  private api?: FastifyInstance;
  private store?: StateStore;
  private publishing?: Promise<void>;
  private publishAgain = false;
  readonly registry = new Registry();
  private readonly m;

  constructor(private readonly config: Config, readonly pop: Pop, private readonly opts: AgentOptions) {
    const now = Date.now();
    this.vips = pop.vips.map((spec) => ({
      spec,
      nodes: spec.nodes.map((n) => ({ ...n, rf: newRiseFall() })),
      machine: newVipMachine(now),
      verdict: 'unknown' as Verdict,
      verdictReason: 'no probe yet',
    }));
    this.client = new GobgpClient(pop.bgp.api, pop.bgp.asn, pop.bgp.protoDir);
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    this.m = {
      state: new Gauge({ name: 'gtm_agent_vip_state', help: '1 for the current state of each VIP', labelNames: ['vip', 'state'], registers: [r] }),
      transitions: new Counter({ name: 'gtm_agent_vip_transitions_total', help: 'VIP state transitions', labelNames: ['vip', 'from', 'to'], registers: [r] }),
      flaps: new Counter({ name: 'gtm_agent_vip_flaps_total', help: 'Health-driven announce/withdraw changes after the first announce', labelNames: ['vip'], registers: [r] }),
      probeSeconds: new Histogram({ name: 'gtm_agent_probe_seconds', help: 'Probe latency', labelNames: ['vip', 'node', 'result'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [r] }),
      bgpSeconds: new Histogram({ name: 'gtm_agent_bgp_op_seconds', help: 'gRPC AddPath/DeletePath latency', labelNames: ['op'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers: [r] }),
      grpcErrors: new Counter({ name: 'gtm_agent_grpc_errors_total', help: 'gRPC errors talking to gobgpd', labelNames: ['method'], registers: [r] }),
      session: new Gauge({ name: 'gtm_agent_bgp_session_up', help: '1 when the BGP session to the peer is Established', labelNames: ['peer'], registers: [r] }),
      bfd: new Gauge({ name: 'gtm_agent_bfd_session_up', help: '1 when the BFD session to the peer is Up (bgp.bfd_socket)', labelNames: ['peer'], registers: [r] }),
      announcedPaths: new Gauge({ name: 'gtm_agent_announced_paths', help: 'Paths announced through gobgpd', registers: [r] }),
    };
  }

  private get log(): Logger {
    return this.opts.log;
  }

  async start(): Promise<void> {
    mkdirSync(this.opts.stateDir, { recursive: true });
    if (this.pop.bgp.manageGobgpd) this.superviseGobgpd();
    this.watchBgp();
    if (this.pop.bgp.bfdSocket) this.watchBfd(this.pop.bgp.bfdSocket);
    for (const v of this.vips) {
      for (const n of v.nodes) this.scheduleProbe(v, n, 0);
      if (v.spec.passive) this.pollPassive(v);
    }
    this.timers.push(setInterval(() => this.checkMaintenanceFile(), 250));
    // Periodic verification against ListPath also retries after gRPC errors.
    this.timers.push(setInterval(() => this.requestReconcile(), 5000));
    await this.startApi();
    if (this.config.control) {
      this.store = await openStore(this.config.control.store);
      const every = this.config.control.heartbeatMs;
      this.timers.push(setInterval(() => void this.publish(), every));
      void this.publish();
    }
    this.log.info({ pop: this.pop.name, vips: this.vips.map((v) => v.spec.prefix), api: `${this.pop.api.host}:${this.opts.apiPort ?? this.pop.api.port}` }, 'agent started');
  }

  // ---- gobgpd ---------------------------------------------------------------------------

  private superviseGobgpd(): void {
    if (this.stopped) return;
    const sc = startGobgpd(this.pop.bgp, this.opts.stateDir, this.opts.wrapper);
    this.sidecar = sc;
    void sc.pid.then((pid) => {
      this.gobgpdPid = pid;
      this.log.info({ pid, policy: this.pop.bgp.onAgentDeath }, 'gobgpd started');
    });
    void sc.exited.then((code) => {
      this.bgpApiUp = false;
      this.announced = [];
      if (this.stopped || this.sidecar !== sc) return;
      this.log.error({ code }, 'gobgpd exited; restarting it and re-announcing');
      setTimeout(() => this.superviseGobgpd(), 200);
    });
  }

  /** Follows peer events; a broken stream (gobgpd restart) reconnects with backoff. */
  private watchBgp(delay = 0): void {
    if (this.stopped) return;
    setTimeout(async () => {
      if (this.stopped) return;
      try {
        for (const p of await this.client.listPeers()) this.setPeer(p.address, p.state);
        this.bgpApiUp = true;
      } catch (err) {
        this.bgpApiUp = false;
        if (delay > 0) this.m.grpcErrors.inc({ method: 'ListPeer' });
        return this.watchBgp(Math.min(2000, Math.max(100, delay * 2)));
      }
      this.log.info({ api: this.pop.bgp.api }, 'connected to gobgpd');
      this.requestReconcile();
      this.cancelWatch = this.client.watchPeers(
        (e) => this.setPeer(e.address, e.state),
        (err) => {
          this.bgpApiUp = false;
          for (const p of Object.keys(this.liveness.bgpStates())) this.setPeer(p, 'UNKNOWN');
          if (!this.stopped) {
            if (err) this.m.grpcErrors.inc({ method: 'WatchEvent' });
            this.log.warn({ err: err?.message }, 'lost the gobgpd event stream; reconnecting');
            this.watchBgp(100);
          }
        },
      );
    }, delay);
  }

  private setPeer(address: string, state: string): void {
    // gobgpd's event stream also reports a peer "<nil>" (its own init events): not a neighbor.
    if (!isIP(address)) return;
    const old = this.liveness.bgpOf(address);
    if (old === state) return;
    const wasUp = this.sessionUp;
    this.liveness.setBgp(address, state);
    this.m.session.set({ peer: address }, state === 'ESTABLISHED' ? 1 : 0);
    if (old !== undefined || state === 'ESTABLISHED') this.log.info({ peer: address, from: old, to: state }, 'bgp session state');
    if (this.sessionUp !== wasUp) void this.publish();
  }

  /** A session counts when gobgpd has it Established and BFD (if watched) agrees. */
  private get sessionUp(): boolean {
    return this.liveness.anyUsable((addr) => this.holdTimeMs(addr), Date.now());
  }

  /** Serving: a trusted session, gobgpd reachable, and something announced through it. */
  private get serving(): boolean {
    return this.sessionUp && this.bgpApiUp && this.announced.length > 0;
  }

  private holdTimeMs(addr: string): number {
    return (this.pop.bgp.neighbors.find((n) => n.address === addr)?.holdTime ?? 9) * 1000;
  }

  /**
   * Polls the BFD-only BIRD's control socket every 100 ms (a local unix socket: cheap), so a
   * cut or blackholed link takes the PoP out of DNS in BFD time, not gobgpd's hold time.
   */
  private watchBfd(socket: string): void {
    const poll = async (): Promise<void> => {
      if (this.stopped) return;
      let states: Record<string, string> | undefined;
      try {
        this.bfd ??= await BirdClient.connect(socket, 1000);
        states = await this.bfd.bfdSessions();
        if (this.bfdLost) this.log.info({ socket }, 'BFD helper reachable again');
        this.bfdLost = false;
      } catch (err) {
        if (!this.bfdLost) this.log.warn({ socket, err: (err as Error).message }, 'cannot read the BFD helper; using BGP state alone');
        this.bfdLost = true;
        this.bfd?.close();
        this.bfd = undefined;
      }
      const wasUp = this.sessionUp;
      const now = Date.now();
      for (const n of this.pop.bgp.neighbors) {
        const old = this.liveness.bfdOf(n.address);
        // The helper drops a session whose interface address went away: that is Down too.
        const state = states ? (states[n.address] ?? 'Down') : undefined;
        if (this.liveness.setBfd(n.address, state, now)) {
          this.m.bfd.set({ peer: n.address }, state === 'Up' ? 1 : 0);
          this.log.info({ peer: n.address, from: old ?? null, to: state ?? null }, 'bfd session state');
        }
      }
      if (this.sessionUp !== wasUp) {
        this.log.info({ sessionUp: this.sessionUp, bgp: this.liveness.bgpStates(), bfd: this.liveness.bfdStates() }, 'bgp session usability changed');
        void this.publish();
      }
      if (!this.stopped) this.bfdTimer = setTimeout(() => void poll(), states ? 100 : 1000);
    };
    void poll();
  }

  // ---- health ---------------------------------------------------------------------------

  private scheduleProbe(v: VipRuntime, n: NodeRuntime, delay: number): void {
    if (this.stopped) return;
    n.timer = setTimeout(async () => {
      let ok = true;
      let detail = '';
      let ms = 0;
      for (const check of v.spec.checks) {
        const r = await probe(n.address, check);
        ms += r.ms;
        detail = `${check.type}: ${r.detail}`;
        if (!r.ok) {
          ok = false;
          break;
        }
      }
      if (this.stopped) return;
      this.m.probeSeconds.observe({ vip: v.spec.prefix, node: n.name, result: ok ? 'ok' : 'fail' }, ms / 1000);
      const { rf, changed } = feed(n.rf, ok, v.spec.rise, v.spec.fall);
      n.rf = { ...rf, last: { ok, detail, at: Date.now(), ms } };
      if (changed) this.log.info({ vip: v.spec.prefix, node: n.name, state: rf.state, detail }, 'lb node health changed');
      this.evaluate(v);
      this.scheduleProbe(v, n, isChanging(n.rf) ? v.spec.fastIntervalMs : v.spec.intervalMs);
    }, delay);
  }

  private pollPassive(v: VipRuntime): void {
    const passive = v.spec.passive;
    if (!passive || this.stopped) return;
    v.passiveTimer = setTimeout(async () => {
      v.errorRate = await readErrorRate(passive.url, Math.min(2000, passive.intervalMs));
      this.evaluate(v);
      this.pollPassive(v);
    }, passive.intervalMs);
  }

  private checkMaintenanceFile(): void {
    const f = this.pop.maintenanceFile;
    const on = f ? existsSync(f) : false;
    if (on !== this.maintenanceFile) {
      this.maintenanceFile = on;
      this.log.info({ file: f, on }, 'maintenance file changed');
      for (const v of this.vips) this.evaluate(v);
    }
  }

  private get maintenance(): boolean {
    return this.maintenanceFile || this.maintenanceApi !== undefined;
  }

  /** Recomputes one VIP's state; reconciles BGP when what should be announced changed. */
  private evaluate(v: VipRuntime): void {
    const c = clusterVerdict({ nodes: v.nodes.map((n) => n.rf.state), minHealthy: v.spec.minHealthy, errorRate: v.errorRate, maxErrorRate: v.spec.passive?.maxErrorRate });
    v.verdict = c.verdict;
    v.verdictReason = c.reason;
    const before = v.machine;
    const { m, changed } = step(before, {
      verdict: c.verdict,
      verdictReason: c.reason,
      maintenance: this.maintenance,
      shuttingDown: this.shuttingDown,
      now: Date.now(),
      holdDownMs: this.pop.bgp.holdDownMs,
      drainMs: this.pop.bgp.drain.durationMs,
    });
    v.machine = m;
    if (m.state === 'DRAINING' && m.drainUntil && before.state !== 'DRAINING') {
      clearTimeout(v.drainTimer);
      v.drainTimer = setTimeout(() => this.evaluate(v), Math.max(0, m.drainUntil - Date.now()) + 1);
    }
    if (m.state === 'DOWN' && before.state === 'DOWN' && m.reason.startsWith('healthy again')) {
      // Re-evaluate when the hold-down ends even if no probe result arrives first.
      clearTimeout(v.drainTimer);
      v.drainTimer = setTimeout(() => this.evaluate(v), Math.max(1, m.lastFlip + this.pop.bgp.holdDownMs - Date.now()));
    }
    if (changed) {
      if (m.state !== before.state) this.m.transitions.inc({ vip: v.spec.prefix, from: before.state, to: m.state });
      if (m.flaps > before.flaps) this.m.flaps.inc({ vip: v.spec.prefix });
      for (const s of ['INIT', 'UP', 'DRAINING', 'DOWN', 'DISABLED']) this.m.state.set({ vip: v.spec.prefix, state: s }, s === m.state ? 1 : 0);
      this.log.info({ vip: v.spec.prefix, from: before.state, to: m.state, reason: m.reason, announce: announceOf(m) }, 'vip state changed');
      // When the announcement changes, the reconcile publishes once gobgpd holds the new
      // paths (milliseconds later): publishing now would report UP with nothing announced.
      if (announceOf(m) === announceOf(before)) void this.publish();
    }
    if (announceOf(m) !== announceOf(before)) this.requestReconcile();
  }

  // ---- heartbeats -----------------------------------------------------------------------

  report(): AgentReport {
    return {
      pop: this.pop.name,
      region: this.pop.region,
      serving: this.serving,
      sessionUp: this.sessionUp,
      vips: this.vips.map((v) => ({ prefix: v.spec.prefix, state: v.machine.state })),
      at: Date.now(),
    };
  }

  /** Publishes this PoP's state with a lease; DNS treats an expired lease as down. */
  private publish(): Promise<void> {
    const store = this.store;
    const control = this.config.control;
    if (!store || !control) return Promise.resolve();
    // A change during a write is published right after it, never dropped; callers that
    // await get the write that includes their change.
    if (this.publishing) {
      this.publishAgain = true;
      return this.publishing;
    }
    this.publishing = (async () => {
      try {
        do {
          this.publishAgain = false;
          try {
            await store.put(KEYS.agent(this.pop.name), this.report(), { leaseMs: control.leaseMs });
          } catch (err) {
            this.log.warn({ err: (err as Error).message }, 'could not publish the heartbeat');
          }
        } while (this.publishAgain && !this.stopped);
      } finally {
        this.publishing = undefined;
      }
    })();
    return this.publishing;
  }

  // ---- announcing -----------------------------------------------------------------------

  desiredPaths(): AnnouncedPath[] {
    const b = this.pop.bgp;
    const out: AnnouncedPath[] = [];
    for (const v of this.vips) {
      const mode = announceOf(v.machine);
      if (mode === 'none') continue;
      const six = v.spec.prefix.includes(':');
      const drain = mode === 'drain';
      out.push({
        prefix: v.spec.prefix,
        nextHop: (six ? b.nextHop6 : b.nextHop) as string,
        origin: b.origin,
        med: drain ? (b.drain.med ?? b.med) : b.med,
        communities: drain ? [...new Set([...b.communities, ...b.drain.communities])] : b.communities,
        largeCommunities: b.largeCommunities,
        prepend: drain ? b.drain.prepend : 0,
      });
    }
    return out;
  }

  /** Serialises reconciliations; a request during one runs another right after. */
  requestReconcile(): Promise<void> {
    this.dirty = true;
    if (!this.reconciling) {
      this.reconciling = (async () => {
        let backoff = 100;
        while (this.dirty) {
          this.dirty = false;
          try {
            await this.reconcileOnce();
            backoff = 100;
          } catch (err) {
            this.m.grpcErrors.inc({ method: (err as { method?: string }).method ?? 'unknown' });
            this.log.warn({ err: (err as Error).message, retryMs: backoff }, 'reconcile failed; retrying');
            await new Promise((r) => setTimeout(r, backoff));
            backoff = Math.min(3000, backoff * 2);
            this.dirty = !this.stopped || this.shuttingDown;
            if (this.stopped && !this.shuttingDown) break;
          }
        }
        this.reconciling = undefined;
      })();
    }
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    const desired = this.desiredPaths();
    const announced = await this.client.listLocalPaths();
    const plan = reconcile(desired, announced);
    for (const p of plan.remove) {
      const t0 = performance.now();
      await this.client.deletePath(p);
      this.m.bgpSeconds.observe({ op: 'delete' }, (performance.now() - t0) / 1000);
      this.log.info({ prefix: p.prefix, ms: +(performance.now() - t0).toFixed(2) }, 'withdrew path');
    }
    for (const p of plan.add) {
      const t0 = performance.now();
      await this.client.addPath(p);
      this.m.bgpSeconds.observe({ op: 'add' }, (performance.now() - t0) / 1000);
      this.log.info({ prefix: p.prefix, med: p.med, communities: p.communities, prepend: p.prepend, ms: +(performance.now() - t0).toFixed(2) }, 'announced path');
    }
    // Verify: what gobgpd holds now is what /status reports as announced.
    this.announced = plan.add.length || plan.remove.length ? await this.client.listLocalPaths() : announced;
    this.m.announcedPaths.set(this.announced.length);
    if (plan.add.length || plan.remove.length) void this.publish();
    const left = reconcile(desired, this.announced);
    if (left.add.length || left.remove.length) throw new Error(`gobgpd does not hold the desired paths after reconciling (${left.add.length} missing, ${left.remove.length} extra)`);
  }

  // ---- API ------------------------------------------------------------------------------

  status(): Record<string, unknown> {
    return {
      pop: this.pop.name,
      region: this.pop.region,
      serving: this.serving,
      bgp: { api: this.pop.bgp.api, apiUp: this.bgpApiUp, gobgpdPid: this.gobgpdPid, sessions: this.liveness.bgpStates(), bfd: this.liveness.bfdStates(), sessionUp: this.sessionUp },
      maintenance: { on: this.maintenance, file: this.maintenanceFile, api: this.maintenanceApi ?? null },
      shuttingDown: this.shuttingDown,
      announced: this.announced,
      vips: this.vips.map((v) => ({
        prefix: v.spec.prefix,
        state: v.machine.state,
        since: new Date(v.machine.since).toISOString(),
        reason: v.machine.reason,
        announce: announceOf(v.machine),
        verdict: v.verdict,
        verdictReason: v.verdictReason,
        flaps: v.machine.flaps,
        errorRate: v.errorRate ?? null,
        nodes: v.nodes.map((n) => ({ name: n.name, address: n.address, state: n.rf.state, last: n.rf.last ?? null })),
      })),
    };
  }

  private async startApi(): Promise<void> {
    const app = Fastify({ logger: false });
    app.get('/healthz', async (_req, reply) => {
      // Alive, and honest about serving: no session or no gobgpd means not serving.
      const body = { ok: this.bgpApiUp, serving: this.serving, bgpApiUp: this.bgpApiUp, sessionUp: this.sessionUp };
      return reply.code(this.bgpApiUp ? 200 : 503).send(body);
    });
    app.get('/status', async () => this.status());
    app.get('/metrics', async (_req, reply) => reply.type(this.registry.contentType).send(await this.registry.metrics()));
    app.post(
      '/maintenance',
      {
        schema: {
          body: {
            type: 'object',
            required: ['enabled'],
            additionalProperties: false,
            properties: { enabled: { type: 'boolean' }, reason: { type: 'string', maxLength: 500 } },
          },
        },
      },
      async (req) => {
        const body = req.body as { enabled: boolean; reason?: string };
        this.maintenanceApi = body.enabled ? { reason: body.reason ?? 'set through the API', since: Date.now() } : undefined;
        this.log.info({ enabled: body.enabled, reason: body.reason }, 'maintenance set through the API');
        for (const v of this.vips) this.evaluate(v);
        return { maintenance: this.maintenance };
      },
    );
    await app.listen({ host: this.pop.api.host, port: this.opts.apiPort ?? this.pop.api.port });
    this.api = app;
  }

  // ---- shutdown -------------------------------------------------------------------------

  /** Drains (less preferred for the drain period), withdraws, verifies, stops gobgpd. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.log.info({ drainMs: this.pop.bgp.drain.durationMs }, 'shutting down: draining then withdrawing');
    for (const v of this.vips) this.evaluate(v);
    const drainEnd = Math.max(0, ...this.vips.map((v) => (v.machine.drainUntil ?? 0) - Date.now()));
    await new Promise((r) => setTimeout(r, drainEnd + 5));
    for (const v of this.vips) this.evaluate(v);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      await this.requestReconcile();
      if (this.announced.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    this.log.info({ remaining: this.announced.length }, 'withdrawn; stopping');
    await this.publish();
    await this.close();
  }

  async close(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.bfdTimer);
    this.bfd?.close();
    for (const v of this.vips) {
      clearTimeout(v.drainTimer);
      clearTimeout(v.passiveTimer);
      for (const n of v.nodes) clearTimeout(n.timer);
    }
    this.cancelWatch?.();
    await this.api?.close();
    const sc = this.sidecar;
    this.sidecar = undefined;
    await sc?.stop();
    this.client.close();
    await this.store?.close();
  }
}

export function defaultStateDir(pop: string): string {
  return join(process.env.GTM_STATE_DIR ?? '/tmp/gtm', pop);
}
