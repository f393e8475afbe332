// The PoP agent: wires the prober (LB health), the speaker (gobgpd, BGP, BFD), the announcer
// (paths in gobgpd), the heartbeat (shared store) and the API. Every input reaches the
// agent's state through one place, `handle`, which runs synchronously and in arrival order:
// the VIP machines are stepped there and nowhere else.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { startAlerts } from '../alerts/index.js';
import type { Config, FlapDamping, Pop, Vip } from '../config/index.js';
import type { AnnouncedPath } from '../bgp/index.js';
import { clusterVerdict, feed, newRiseFall, type RiseFall, type Verdict } from '../health/index.js';
import type { Logger } from '../observability/index.js';
import { emit, type AgentReport } from '../contract/index.js';
import { followOperatorDrain, type OperatorDrain } from './intents.js';
import { startAgentApi } from './api.js';
import { Announcer } from './announcer.js';
import { Heartbeat } from './heartbeat.js';
import { SharedGuardian } from './guardian.js';
import { AgentMetrics } from './metrics.js';
import { Prober, type ProbeResult } from './prober.js';
import { GobgpSpeaker, type Speaker } from './speaker.js';
import type { AgentStatus } from './status.js';
import { desiredPaths } from './desired.js';
import { announceOf, newVipMachine, step, type VipMachine } from './vip-state.js';

interface VipRuntime {
  spec: Vip;
  nodes: { name: string; address: string; rf: RiseFall }[];
  machine: VipMachine;
  verdict: Verdict;
  verdictReason: string;
  errorRate?: number;
  /** The cluster's load as a share of capacity, when `load` is configured and was read. */
  load?: number;
  wakeTimer?: NodeJS.Timeout;
}

/** Everything that can change the agent's state. */
export type AgentInput =
  | { kind: 'probe'; result: ProbeResult }
  | { kind: 'error-rate'; vip: number; rate: number | undefined }
  | { kind: 'maintenance-file'; on: boolean }
  | { kind: 'maintenance-api'; enabled: boolean; reason?: string; who: string }
  /** An operator's drain of this PoP's region, read from the shared store (one drain for DNS and BGP). */
  | { kind: 'operator-drain'; drain?: OperatorDrain }
  | { kind: 'wake'; vip: number }
  /** The BGP guard rail decided about a held shared VIP. */
  | { kind: 'guard'; vip: number }
  | { kind: 'liveness' }
  | { kind: 'paths-changed' }
  | { kind: 'shutdown' };

export interface AgentOptions {
  stateDir: string;
  /** Path of gobgp/run-gobgpd.sh. */
  wrapper: string;
  log: Logger;
  /** Override the API listen address (tests). */
  apiPort?: number;
  /** The BGP side; default: a managed gobgpd (tests pass a fake). */
  speaker?: Speaker;
  /** Start the LB probes (tests drive `handle` with probe results instead). */
  probe?: boolean;
}

export class Agent {
  private readonly vips: VipRuntime[];
  private readonly speaker: Speaker;
  private readonly announcer: Announcer;
  private readonly heartbeat: Heartbeat;
  private readonly guardian: SharedGuardian;
  private readonly prober: Prober;
  private maintenanceApi?: { reason: string; since: number };
  private maintenanceFile = false;
  private operatorDrain?: OperatorDrain;
  /** When the last report found this PoP not serving (cleared when it serves again). */
  private notServingSince?: number;
  private stopIntents?: () => void;
  private shuttingDown = false;
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private api?: FastifyInstance;
  /** BGP/BFD session alerts to the configured webhooks (control.alerts). */
  private alerts?: { stop(): Promise<void> };
  readonly metrics = new AgentMetrics();
  /** `control.flap_damping` in force; SIGHUP sets it from the file again (`setFlapDamping`). */
  private damping: FlapDamping | undefined;

  constructor(
    private readonly config: Config,
    readonly pop: Pop,
    private readonly opts: AgentOptions,
  ) {
    const now = Date.now();
    this.damping = config.control?.flapDamping;
    this.vips = pop.vips.map((spec) => ({
      spec,
      nodes: spec.nodes.map((n) => ({ ...n, rf: newRiseFall() })),
      machine: newVipMachine(now),
      verdict: 'unknown' as Verdict,
      verdictReason: 'no probe yet',
    }));
    this.speaker = opts.speaker ?? new GobgpSpeaker(pop, opts.stateDir, opts.wrapper, opts.log, this.metrics);
    this.announcer = new Announcer(
      this.speaker.client,
      () => this.desiredPaths(),
      () => this.handle({ kind: 'paths-changed' }),
      opts.log,
      this.metrics,
    );
    this.heartbeat = new Heartbeat(pop.name, config.control, () => this.report(), opts.log);
    this.guardian = new SharedGuardian(
      config,
      pop,
      () => this.heartbeat.store,
      (vip) => this.handle({ kind: 'guard', vip }),
      opts.log,
    );
    this.prober = new Prober(pop.vips, {
      onProbe: (result) => this.handle({ kind: 'probe', result }),
      onErrorRate: (vip, rate) => this.handle({ kind: 'error-rate', vip, rate }),
      // The load decides nothing here: it goes out with the next heartbeat, for DNS to shed by.
      onLoad: (vip, load) => void ((this.vips[vip] as VipRuntime).load = load),
      riseFall: (vi, ni) => (this.vips[vi] as VipRuntime).nodes[ni]?.rf ?? newRiseFall(),
    });
  }

  private get log(): Logger {
    return this.opts.log;
  }

  /** Flap damping from now on (undefined: off); a VIP's penalty so far is kept. */
  setFlapDamping(rule: FlapDamping | undefined): void {
    this.damping = rule;
  }

  async start(): Promise<void> {
    try {
      mkdirSync(this.opts.stateDir, { recursive: true });
    } catch (err) {
      // The speaker reports it and retries; the agent stays up, announcing nothing.
      this.log.error(
        { err: (err as Error).message, stateDir: this.opts.stateDir },
        'cannot create the state directory',
      );
    }
    const destinations = this.config.control?.alerts ?? [];
    if (destinations.length)
      this.alerts = startAlerts(destinations, `pop ${this.pop.name}`, {
        deadLetter: join(this.opts.stateDir, 'alerts-dead.jsonl'),
        log: this.log,
      });
    this.speaker.start({
      onLiveness: () => this.handle({ kind: 'liveness' }),
      onConnected: () => void this.announcer.request(),
      onGobgpdExit: () => this.announcer.forget(),
    });
    if (this.opts.probe !== false) this.prober.start();
    this.timers.push(setInterval(() => this.checkMaintenanceFile(), 250));
    // Periodic verification against ListPath also retries after gRPC errors.
    this.timers.push(setInterval(() => void this.announcer.request(), 5000));
    this.api = await startAgentApi(
      this.pop.api.host,
      this.opts.apiPort ?? this.pop.api.port,
      {
        health: () => ({
          ok: this.speaker.apiUp,
          serving: this.serving,
          bgpApiUp: this.speaker.apiUp,
          sessionUp: this.speaker.sessionUp,
        }),
        status: () => this.status(),
        metrics: async () => ({
          contentType: this.metrics.registry.contentType,
          body: await this.metrics.registry.metrics(),
        }),
        setMaintenance: (enabled, reason, who) => {
          this.handle({ kind: 'maintenance-api', enabled, reason, who });
          void this.heartbeat.audit({
            who,
            action: enabled ? 'agent-maintenance-on' : 'agent-maintenance-off',
            target: this.pop.name,
            why: reason ?? '',
          });
          return { maintenance: this.maintenance };
        },
      },
      {
        tokens: this.config.control?.api.tokens ?? [],
        readRequiresToken: this.config.control?.api.readRequiresToken ?? false,
        region: this.pop.region,
      },
    );
    await this.heartbeat.start();
    this.guardian.start();
    this.stopIntents = followOperatorDrain(this.heartbeat.store, this.pop.region, (drain) =>
      this.handle({ kind: 'operator-drain', drain }),
    );
    const api = `${this.pop.api.host}:${this.opts.apiPort ?? this.pop.api.port}`;
    emit(
      this.log,
      'agent.started',
      { pop: this.pop.name, vips: this.vips.map((v) => v.spec.prefix), api },
      'agent started',
    );
  }

  /** The one place inputs change the agent's state. */
  handle(e: AgentInput): void {
    switch (e.kind) {
      case 'probe': {
        const v = this.vips[e.result.vip] as VipRuntime;
        const n = v.nodes[e.result.node] as VipRuntime['nodes'][number];
        const { ok, detail, ms } = e.result;
        this.metrics.probeSeconds.observe({ vip: v.spec.prefix, node: n.name, result: ok ? 'ok' : 'fail' }, ms / 1000);
        const at = Date.now();
        const { rf, changed } = feed(n.rf, ok, v.spec.rise, v.spec.fall, at);
        n.rf = { ...rf, last: { ok, detail, at, ms } };
        if (changed)
          emit(
            this.log,
            'agent.lb.node',
            { vip: v.spec.prefix, node: n.name, state: rf.state, detail },
            'lb node health changed',
          );
        return this.evaluate(v);
      }
      case 'error-rate': {
        const v = this.vips[e.vip] as VipRuntime;
        v.errorRate = e.rate;
        return this.evaluate(v);
      }
      case 'maintenance-file':
        this.maintenanceFile = e.on;
        emit(this.log, 'agent.maintenance', { source: 'file', enabled: e.on }, 'maintenance file changed');
        return this.evaluateAll();
      case 'operator-drain': {
        const was = this.operatorDrain;
        this.operatorDrain = e.drain;
        if ((was === undefined) === (e.drain === undefined)) return;
        emit(
          this.log,
          'agent.maintenance',
          { source: 'operator', enabled: e.drain !== undefined, reason: e.drain?.reason, who: e.drain?.who },
          e.drain ? 'operator drain of this region: draining BGP' : 'operator drain ended',
        );
        return this.evaluateAll();
      }
      case 'maintenance-api':
        this.maintenanceApi = e.enabled ? { reason: e.reason ?? 'set through the API', since: Date.now() } : undefined;
        emit(
          this.log,
          'agent.maintenance',
          { source: 'api', enabled: e.enabled, reason: e.reason, who: e.who },
          'maintenance set through the API',
        );
        return this.evaluateAll();
      case 'wake':
      case 'guard':
        return this.evaluate(this.vips[e.vip] as VipRuntime);
      case 'shutdown':
        this.shuttingDown = true;
        this.announcer.finishing = true;
        return this.evaluateAll();
      case 'liveness':
      case 'paths-changed':
        // What the heartbeat reports changed (session, gobgpd, or the paths it holds).
        void this.heartbeat.publish();
        return;
    }
  }

  private checkMaintenanceFile(): void {
    const f = this.pop.maintenanceFile;
    const on = f ? existsSync(f) : false;
    if (on !== this.maintenanceFile) this.handle({ kind: 'maintenance-file', on });
  }

  private get maintenance(): boolean {
    return this.maintenanceFile || this.maintenanceApi !== undefined || this.operatorDrain !== undefined;
  }

  /** Serving: a trusted session, gobgpd reachable, and something announced through it. */
  private get serving(): boolean {
    return this.speaker.sessionUp && this.speaker.apiUp && this.announcer.announced.length > 0;
  }

  private evaluateAll(): void {
    for (const v of this.vips) this.evaluate(v);
  }

  /** Steps one VIP's machine; reconciles BGP when what should be announced changed. */
  private evaluate(v: VipRuntime): void {
    const c = clusterVerdict({
      nodes: v.nodes.map((n) => n.rf.state),
      minHealthy: v.spec.minHealthy,
      errorRate: v.errorRate,
      maxErrorRate: v.spec.passive?.maxErrorRate,
    });
    v.verdict = c.verdict;
    v.verdictReason = c.reason;
    const before = v.machine;
    const vi = this.vips.indexOf(v);
    const { m, changed } = step(before, {
      verdict: c.verdict,
      verdictReason: c.reason,
      maintenance: this.maintenance,
      shuttingDown: this.shuttingDown,
      now: Date.now(),
      holdDownMs: this.pop.bgp.holdDownMs,
      drainMs: this.pop.bgp.drain.durationMs,
      withdrawAllowed: this.guardian.isAllowed(vi),
      holdReason: this.guardian.reasonOf(vi),
      damping: this.damping,
    });
    v.machine = m;
    if (v.spec.shared) {
      // Held: ask the fleet (again); healthy again: the next failure asks afresh.
      if (m.held) this.guardian.request(vi);
      else if (m.state === 'UP') this.guardian.reset(vi);
      this.metrics.held.set({ vip: v.spec.prefix, shared: v.spec.shared.name }, m.held ? 1 : 0);
      if ((m.held ?? false) !== (before.held ?? false))
        emit(
          this.log,
          'bgp.guardrail',
          { vip: v.spec.prefix, shared: v.spec.shared.name, held: m.held ?? false, reason: m.reason },
          m.held ? 'BGP guard rail: keeping a shared VIP announced (drained)' : 'BGP guard rail released',
          m.held ? 'warn' : 'info',
        );
    }
    // The machine says when it wants to be stepped again (end of a drain or a hold-down).
    if (m.wakeAt !== before.wakeAt || v.wakeTimer === undefined) {
      clearTimeout(v.wakeTimer);
      v.wakeTimer = undefined;
      if (m.wakeAt !== undefined && !this.stopped) {
        v.wakeTimer = setTimeout(
          () => {
            v.wakeTimer = undefined;
            this.handle({ kind: 'wake', vip: vi });
          },
          Math.max(1, m.wakeAt - Date.now() + 1),
        );
      }
    }
    if (changed) {
      if (m.state !== before.state)
        this.metrics.transitions.inc({ vip: v.spec.prefix, from: before.state, to: m.state });
      if (m.flaps > before.flaps) this.metrics.flaps.inc({ vip: v.spec.prefix });
      this.metrics.setVipState(v.spec.prefix, m.state);
      emit(
        this.log,
        'agent.vip.state',
        { vip: v.spec.prefix, from: before.state, to: m.state, reason: m.reason, announce: announceOf(m) },
        'vip state changed',
      );
      // When the announcement changes, the reconcile publishes once gobgpd holds the new
      // paths (milliseconds later): publishing now would report UP with nothing announced.
      if (announceOf(m) === announceOf(before)) void this.heartbeat.publish();
    }
    if (announceOf(m) !== announceOf(before)) {
      // Health taking the VIP out of normal announcement: from the first failing probe of the
      // node whose failure tipped it (the last to start failing: nodes that failed before it left
      // the VIP up) to the router-facing change at gobgpd, for gtm_agent_failover_seconds.
      const onHealth = announceOf(before) === 'normal' && !this.maintenance && !this.shuttingDown;
      const failing = v.nodes.flatMap((n) => (n.rf.failingSince === undefined ? [] : [n.rf.failingSince]));
      const since = onHealth ? (failing.length ? Math.max(...failing) : Date.now()) : undefined;
      void this.announcer.request().then(() => {
        if (since !== undefined) this.metrics.failover.observe({ vip: v.spec.prefix }, (Date.now() - since) / 1000);
      });
    }
  }

  report(): AgentReport {
    const serving = this.serving;
    const troubleSince = this.troubleSince(serving, Date.now());
    return {
      pop: this.pop.name,
      region: this.pop.region,
      serving,
      sessionUp: this.speaker.sessionUp,
      vips: this.vips.map((v) => ({
        prefix: v.spec.prefix,
        state: v.machine.state,
        ...(v.machine.held ? { held: true } : {}),
      })),
      peers: this.peers(),
      ...(troubleSince !== undefined ? { troubleSince } : {}),
      ...this.loadReport(),
      at: Date.now(),
    };
  }

  /** The PoP's load: its most loaded cluster's (a VIP's cluster full is the PoP full for it). */
  private loadReport(): { load?: number } {
    const loads = this.vips.map((v) => v.load).filter((l): l is number => l !== undefined);
    return loads.length ? { load: Math.round(Math.max(...loads) * 1000) / 1000 } : {};
  }

  /** The first sign of what keeps a VIP from UP or the PoP from serving: a failed probe, or losing the session. */
  private troubleSince(serving: boolean, now: number): number | undefined {
    this.notServingSince = serving ? undefined : (this.notServingSince ?? now);
    const signs = this.vips
      .filter((v) => v.machine.state !== 'UP')
      .flatMap((v) => v.nodes.map((n) => n.rf.failingSince))
      .concat(this.notServingSince)
      .filter((t): t is number => t !== undefined);
    return signs.length ? Math.min(...signs) : undefined;
  }

  /** BGP and BFD per neighbor, for the operators' console. */
  private peers(): NonNullable<AgentReport['peers']> {
    const st = this.speaker.status();
    return Object.entries(st.sessions).map(([address, bgp]) => ({
      address,
      bgp,
      ...(st.bfd?.[address] ? { bfd: st.bfd[address] } : {}),
    }));
  }

  desiredPaths(): AnnouncedPath[] {
    return desiredPaths(
      this.pop.bgp,
      this.vips.map((v) => ({ prefix: v.spec.prefix, announce: announceOf(v.machine) })),
    );
  }

  /** Reconciles now (tests and shutdown await it). */
  requestReconcile(): Promise<void> {
    return this.announcer.request();
  }

  status(): AgentStatus {
    return {
      pop: this.pop.name,
      region: this.pop.region,
      serving: this.serving,
      bgp: this.speaker.status(),
      maintenance: {
        on: this.maintenance,
        file: this.maintenanceFile,
        api: this.maintenanceApi ?? null,
        operator: this.operatorDrain ?? null,
      },
      shuttingDown: this.shuttingDown,
      announced: this.announcer.announced,
      vips: this.vips.map((v) => ({
        prefix: v.spec.prefix,
        state: v.machine.state,
        since: new Date(v.machine.since).toISOString(),
        reason: v.machine.reason,
        announce: announceOf(v.machine),
        shared: v.spec.shared?.name ?? null,
        held: v.machine.held ?? false,
        verdict: v.verdict,
        verdictReason: v.verdictReason,
        flaps: v.machine.flaps,
        errorRate: v.errorRate ?? null,
        nodes: v.nodes.map((n) => ({ name: n.name, address: n.address, state: n.rf.state, last: n.rf.last ?? null })),
      })),
    };
  }

  /** Drains (less preferred for the drain period), withdraws, verifies, stops gobgpd. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.log.info({ drainMs: this.pop.bgp.drain.durationMs }, 'shutting down: draining then withdrawing');
    this.handle({ kind: 'shutdown' });
    const drainEnd = Math.max(0, ...this.vips.map((v) => (v.machine.drainUntil ?? 0) - Date.now()));
    await new Promise((r) => setTimeout(r, drainEnd + 5));
    this.evaluateAll();
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      await this.announcer.request();
      if (this.announcer.announced.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    this.log.info({ remaining: this.announcer.announced.length }, 'withdrawn; stopping');
    await this.heartbeat.publish();
    await this.close();
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.announcer.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const v of this.vips) clearTimeout(v.wakeTimer);
    this.prober.stop();
    await this.api?.close();
    await this.speaker.stop();
    this.guardian.stop();
    this.stopIntents?.();
    await this.heartbeat.stop();
    await this.alerts?.stop();
  }
}

export function defaultStateDir(pop: string): string {
  return join(process.env.GTM_STATE_DIR ?? '/tmp/gtm', pop);
}
