// Keeps a RegionState up to date from the shared store: agents' heartbeats and operators'
// overrides, merged with the guard rail. DNS servers run one of these.
import type { CalculatedHealth, Config, ControlSettings, MinChildren, SignalSettings } from '../config/index.js';
import {
  Gauge,
  Histogram,
  invalidEntriesMetric,
  stateReadErrorsMetric,
  type Logger,
  type Registry,
} from '../observability/index.js';
import {
  emit,
  DEFAULT_MAX_REGIONS_OUT,
  GUARD_RAIL_RECENT_MS,
  isLive,
  KEYS,
  type AgentReport,
  type HealthSignal,
  type PopPresence,
  type RegionOverride,
  type RegionWeightOverride,
  type RegionView,
  type ServiceWeightOverride,
  type StoreLost,
  STORE_LOST_FALLBACKS,
  type VantageReport,
} from '../contract/index.js';
import { failureStart, mergeRegionState, type MergeInput } from './merge.js';
import { type Carried, SILENCE_MS, applyStoreLost, carryOver, storeLostAt, withCarried } from './store-lost.js';
import type { CapacityRule } from './capacity.js';
import type { InMemoryRegionState } from './region-state.js';
import { FileStateStore, type Entry, type StateStore } from './store.js';
import { CheckedStore, type InvalidEntry } from './checked-store.js';

/**
 * Opens the configured store, every read checked against the contract (CheckedStore; an invalid
 * entry is logged once with its key when `log` is given); etcd3 is loaded only when etcd is
 * configured.
 */
export async function openStore(s: ControlSettings['store'], log?: Logger): Promise<CheckedStore> {
  const onInvalid = (e: InvalidEntry) =>
    log?.error(
      { key: e.key, problem: e.problem },
      'shared state entry breaks the contract: skipped, the last valid one kept',
    );
  if (s.kind === 'file') return new CheckedStore(new FileStateStore(s.path), onInvalid);
  const { EtcdStateStore } = await import('./etcd-store.js');
  return new CheckedStore(new EtcdStateStore(s.endpoints, s.prefix, s), onInvalid);
}

/** The store under a checked one. */
const unwrap = (store: StateStore) => (store instanceof CheckedStore ? store.inner : store);

/**
 * Agents a state file keeps up with (every heartbeat rewrites and fsyncs the whole file; measured
 * with `npm run bench:control`). Beyond it the feed warns at start: use etcd.
 */
export const FILE_STORE_MAX_AGENTS = 100;

export class RegionFeed {
  private agents = new Map<string, AgentReport>();
  /** The time of each PoP's newest report, kept after its lease expires. */
  private readonly lastSeen = new Map<string, number>();
  private overrides = new Map<string, RegionOverride>();
  private regionWeights = new Map<string, RegionWeightOverride>();
  private weights = new Map<string, ServiceWeightOverride>();
  private vantage = new Map<string, VantageReport>();
  private signals = new Map<string, HealthSignal>();
  /** PoPs whose agents have reported at least once (a silent one is down, a never-seen one unknown). */
  private known = new Set<string>();
  /** Overrides already announced as forced or expiring (by region and time set). */
  private readonly announced = new Set<string>();
  private readonly stops: (() => void)[] = [];
  private timer?: NodeJS.Timeout;
  private lastHeld = '';
  /** When the store last answered a read (start counts): past `store_lost.max_stale_s`, the fallback. */
  private lastContact = Date.now();
  private contactTimer?: NodeJS.Timeout;
  private contactPending = false;
  /** When the store last answered after a silence (`carryOver`). */
  private backAt?: number;
  /** Reports the store dropped across its own silence, kept for one lease (`carryOver`). */
  private carried = new Map<string, Carried<AgentReport>>();
  /** The store-lost fallback in force, if any. */
  private lost?: StoreLost;
  /** Nothing is applied until both lists have loaded: a half-read store would flap regions. */
  private loaded = { agents: false, overrides: false, vantage: false, signals: false, pops: false };
  private resolveReady?: () => void;
  private readonly ready = new Promise<void>((r) => (this.resolveReady = r));

  constructor(
    private config: Config,
    private readonly store: StateStore,
    private readonly state: InMemoryRegionState,
    private readonly log: Logger,
  ) {}

  /** Told the age (s) of each new agent report as it is read (the metric gtm_state_report_age_seconds). */
  onReportAge?: (seconds: number) => void;
  /** Told when health takes a region out of DNS, with the time (s) since its failure began (gtm_failover_seconds). */
  onFailover?: (region: string, seconds: number) => void;

  start(): void {
    const agents = this.config.pops.length;
    const raw = unwrap(this.store);
    if (raw instanceof FileStateStore && agents > FILE_STORE_MAX_AGENTS)
      emit(
        this.log,
        'store.file.fleet-too-large',
        { agents, limit: FILE_STORE_MAX_AGENTS, path: raw.path },
        'the state file rewrites itself on every heartbeat and falls behind beyond this many agents; use etcd',
        'warn',
      );
    this.stops.push(
      this.store.watch<AgentReport>(KEYS.agents, (entries) => {
        // Keyed by the store key (the checked store holds every report to the key it is under).
        const next = new Map(entries.map((e) => [e.key.slice(KEYS.agents.length), e.value]));
        // How old each new report is as it reaches us: the store's (and the clocks') lag.
        const now = Date.now();
        for (const [pop, r] of next) {
          if (r.at > (this.agents.get(pop)?.at ?? -Infinity)) this.onReportAge?.(Math.max(0, now - r.at) / 1000);
          this.lastSeen.set(pop, r.at);
        }
        this.carried = carryOver(this.agents, next, this.carried, {
          now,
          leaseMs: this.config.control?.leaseMs ?? 0,
          silentMs: now - this.lastContact,
          backAt: this.backAt,
        });
        this.agents = next;
        this.loaded.agents = true;
        this.apply();
      }),
      this.store.watch<RegionOverride>(KEYS.regionOverrides, (entries: Entry<RegionOverride>[]) => {
        const overrides = new Map(entries.map((e) => [e.key.slice(KEYS.regionOverrides.length), e.value]));
        // Forced overrides found on the first read were announced by whoever ran before us.
        for (const [region, o] of overrides) if (o.force) this.announceForced(region, o, this.loaded.overrides);
        this.overrides = overrides;
        this.loaded.overrides = true;
        this.apply();
      }),
      this.store.watch<VantageReport>(KEYS.vantages, (entries) => {
        // By key: a report cannot speak for a point whose key it is not under.
        this.vantage = new Map(entries.map((e) => [e.key.slice(KEYS.vantages.length), e.value]));
        this.loaded.vantage = true;
        this.apply();
      }),
    );
    this.stops.push(
      this.store.watch<PopPresence>(KEYS.pops, (entries) => {
        this.known = new Set(entries.map((e) => e.key.slice(KEYS.pops.length)));
        this.loaded.pops = true;
        this.apply();
      }),
      this.store.watch<HealthSignal>(KEYS.signals, (entries) => {
        // By key: a value cannot speak for a signal whose key it is not under.
        this.signals = new Map(entries.map((e) => [e.key.slice(KEYS.signals.length), e.value]));
        this.loaded.signals = true;
        this.apply();
      }),
      this.store.watch<RegionWeightOverride>(KEYS.regionWeights, (entries) => {
        this.regionWeights = new Map(entries.map((e) => [e.key.slice(KEYS.regionWeights.length), e.value]));
        this.apply();
      }),
      this.store.watch<ServiceWeightOverride>(KEYS.serviceWeights, (entries) => {
        this.weights = new Map(entries.map((e) => [e.key.slice(KEYS.serviceWeights.length), e.value]));
        this.apply();
      }),
    );
    // Override expiry is evaluated here; lease expiry shows up through the watch.
    this.timer = setInterval(() => this.apply(), 250);
    this.timer.unref();
    // A watch says nothing when the store goes silent: one small read a second tells.
    this.contactTimer = setInterval(() => this.checkContact(), 1000);
    this.contactTimer.unref();
  }

  /** Reads one key; any answer (even "no such key") is contact. One read at a time. */
  private checkContact(): void {
    if (this.contactPending) return;
    this.contactPending = true;
    this.store
      .get(KEYS.contact)
      .then(
        () => {
          const now = Date.now();
          if (now - this.lastContact > SILENCE_MS) this.backAt = now;
          this.lastContact = now;
        },
        () => undefined,
      )
      .finally(() => (this.contactPending = false));
  }

  /** Seconds since the store last answered this process (gtm_state_store_silent_seconds). */
  silentSeconds(now = Date.now()): number {
    return Math.max(0, now - this.lastContact) / 1000;
  }

  /** The store-lost fallback in force, if any (explain, gtm_state_store_lost). */
  storeLost(): StoreLost | undefined {
    return this.lost;
  }

  /** Resolves true once the stored state is fully read, false if that takes over `ms`. */
  waitReady(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
    return Promise.race([this.ready.then(() => true), timeout]).finally(() => clearTimeout(timer));
  }

  /** Operators' per-service weights as last seen by the watch (expired ones included). */
  serviceWeights(): { service: string; region: string; override: ServiceWeightOverride }[] {
    return [...this.weights].flatMap(([key, override]) => {
      const [service, region] = key.split('/');
      return service && region ? [{ service, region, override }] : [];
    });
  }

  /** The operator's status for a region as last seen by the watch (expired ones included). */
  overrideOf(region: string): RegionOverride | undefined {
    return this.overrides.get(region);
  }

  /** Every configured signal with its value now (the API, the console, gtm_health_signal). */
  signalStates(now = Date.now()) {
    return [...(this.config.control?.signals ?? new Map<string, SignalSettings>()).entries()].map(([name, s]) => {
      const v = this.signals.get(name);
      const live = v && isLive(v, now);
      return {
        name,
        value: live ? (v.up ? 'up' : 'down') : 'unknown',
        leaseS: s.leaseS,
        ...(v
          ? {
              reason: v.reason,
              who: v.who,
              at: new Date(v.at).toISOString(),
              expiresAt: new Date(v.expiresAt).toISOString(),
            }
          : {}),
      };
    });
  }

  /** The operator's weight for a region as last seen by the watch (expired ones included). */
  weightOf(region: string): RegionWeightOverride | undefined {
    return this.regionWeights.get(region);
  }

  setConfig(config: Config): void {
    this.config = config;
    this.shaped = undefined;
    this.apply();
  }

  /** PoPs per region, configured statuses and per-region rules, derived once per config (not per merge). */
  private shaped?: {
    pops: Map<string, string[]>;
    regions: Map<string, RegionView['status']>;
    capacity: Map<string, CapacityRule>;
    calculated: Map<string, CalculatedHealth>;
    minChildren: Map<string, MinChildren>;
    poolHealth: NonNullable<MergeInput['poolHealth']>;
  };
  private shape(): NonNullable<RegionFeed['shaped']> {
    if (this.shaped) return this.shaped;
    const pops = new Map<string, string[]>();
    for (const p of this.config.pops) {
      const list = pops.get(p.region);
      if (list) list.push(p.name);
      else pops.set(p.region, [p.name]);
    }
    const regions = new Map([...this.config.regions.values()].map((r) => [r.name, r.status] as const));
    const capacity = new Map<string, CapacityRule>();
    const calculated = new Map<string, CalculatedHealth>();
    const minChildren = new Map<string, MinChildren>();
    for (const r of this.config.regions.values()) {
      if (r.capacity) capacity.set(r.name, r.capacity);
      if (r.health) calculated.set(r.name, r.health);
      if (r.minChildren) minChildren.set(r.name, r.minChildren);
    }
    const poolHealth = this.config.services.flatMap((s) =>
      [...(s.poolHealth ?? [])].map(([region, rule]) => ({ service: s.key, region, rule })),
    );
    return (this.shaped = { pops, regions, capacity, calculated, minChildren, poolHealth });
  }

  private announceForced(region: string, o: RegionOverride, tell: boolean): void {
    const key = `forced|${region}|${o.at}`;
    if (this.announced.has(key)) return;
    this.announced.add(key);
    if (tell)
      emit(
        this.log,
        'override.forced',
        { region, status: o.status, who: o.who, reason: o.reason, expiresAt: o.expiresAt },
        'forced override: the guard rail does not apply to this region',
        'warn',
      );
  }

  /** Overrides set for longer than the warning window are announced once when it begins. */
  private announceExpiring(now: number): void {
    const window = this.config.control?.expiryWarningMs ?? 0;
    if (window <= 0) return;
    for (const [region, o] of this.overrides) {
      if (o.expiresAt === undefined || !isLive(o, now) || o.expiresAt - now > window) continue;
      if (o.expiresAt - o.at <= window) continue;
      const key = `expiring|${region}|${o.at}`;
      if (this.announced.has(key)) continue;
      this.announced.add(key);
      emit(
        this.log,
        'override.expiring',
        { region, status: o.status, who: o.who, reason: o.reason, expiresAt: o.expiresAt },
        'an override expires soon; health decides after that',
        'warn',
      );
    }
    if (this.announced.size > 10_000) this.announced.clear();
  }

  private apply(): void {
    if (Object.values(this.loaded).some((l) => !l)) return;
    const previous = new Map<string, RegionView>();
    for (const r of this.config.regions.keys()) {
      const v = this.state.get(r);
      if (v) previous.set(r, v);
    }
    const { pops, regions, capacity, calculated, minChildren, poolHealth } = this.shape();
    const now = Date.now();
    const merged = mergeRegionState({
      regions,
      pops,
      agents: withCarried(this.agents, this.carried, now),
      overrides: this.overrides,
      weights: this.regionWeights,
      previous,
      now,
      maxOutShare: this.config.control?.maxRegionsOut ?? DEFAULT_MAX_REGIONS_OUT,
      recentMs: GUARD_RAIL_RECENT_MS,
      vantage: vantageOf(this.config, this.vantage),
      capacity,
      damping: this.config.control?.flapDamping,
      calculated,
      minChildren,
      poolHealth,
      signals: this.signals,
      // A PoP seen in this process's life counts as known too (its presence may be lagging).
      known: (pop) => this.known.has(pop) || this.lastSeen.has(pop),
      unknownAs: this.config.control?.unknown,
    });
    const held = merged.held;
    const lost = this.config.control && storeLostAt(this.lastContact, now, this.config.control.storeLost);
    this.announceStoreLost(lost, now);
    const views = applyStoreLost(merged.views, regions, lost);
    // One batch per merge: DNS workers get one snapshot, not one per changed region.
    const changes = changedViews(previous, views);
    this.state.setMany(changes);
    this.announceChanges(previous, changes);
    this.measureFailovers(previous, changes, pops, now);
    this.announceExpiring(now);
    this.state.setServiceWeights(
      Object.fromEntries([...this.weights].filter(([, w]) => isLive(w, now)).map(([k, w]) => [k, w.weight])),
    );
    this.resolveReady?.();
    const heldKey = held.join(',');
    if (heldKey !== this.lastHeld) {
      this.lastHeld = heldKey;
      if (held.length)
        emit(
          this.log,
          'guardrail.held',
          { held },
          'guard rail: keeping regions in DNS although their health says out',
          'warn',
        );
    }
  }

  /** `store.lost` when the fallback begins, `store.back` when the store answers again. */
  private announceStoreLost(lost: StoreLost | undefined, now: number): void {
    const was = this.lost;
    this.lost = lost;
    if (lost && !was)
      emit(
        this.log,
        'store.lost',
        { since: lost.since, silentS: Math.round((now - lost.since) / 1000), fallback: lost.fallback },
        lost.fallback === 'configured'
          ? 'shared store silent past max_stale_s: answering from the configured region states'
          : 'shared store silent past max_stale_s: answering SERVFAIL for steered names',
        'error',
      );
    else if (!lost && was)
      emit(this.log, 'store.back', { silentS: Math.round((now - was.since) / 1000) }, 'shared store answers again');
  }

  /** A region that health just took out of DNS: how long since its failure began. */
  private measureFailovers(
    previous: Map<string, RegionView>,
    changes: RegionChanges,
    pops: Map<string, string[]>,
    now: number,
  ): void {
    for (const [region, change] of changes) {
      if (previous.get(region)?.status !== 'up' || change.status !== 'down' || change.source !== 'health') continue;
      const start = failureStart(pops.get(region) ?? [], this.agents, this.lastSeen);
      if (start !== undefined) this.onFailover?.(region, Math.max(0, now - start) / 1000);
    }
  }

  /** One `region.state` event per region whose status changed. */
  private announceChanges(previous: Map<string, RegionView>, changes: RegionChanges): void {
    for (const [region, change] of changes) {
      const old = previous.get(region);
      if (!old || old.status !== change.status)
        emit(
          this.log,
          'region.state',
          {
            region,
            from: old?.status,
            to: change.status as RegionView['status'],
            reason: change.reason,
            source: change.source,
          },
          'region state changed',
        );
    }
  }

  stop(): void {
    for (const s of this.stops) s();
    clearInterval(this.timer);
    clearInterval(this.contactTimer);
  }
}

type RegionChanges = Parameters<InMemoryRegionState['setMany']>[0];

/** The regions whose view changed in a merge, as the region state takes them. */
function changedViews(previous: Map<string, RegionView>, views: Map<string, RegionView>): RegionChanges {
  const changes: RegionChanges = [];
  for (const [region, v] of views) {
    const old = previous.get(region);
    if (
      !old ||
      old.status !== v.status ||
      old.weight !== v.weight ||
      old.reason !== v.reason ||
      old.held !== v.held ||
      old.source !== v.source ||
      vantageKey(old.vantage) !== vantageKey(v.vantage) ||
      old.load !== v.load ||
      old.shed !== v.shed ||
      old.damping !== v.damping ||
      old.storeLost?.fallback !== v.storeLost?.fallback ||
      (old.unknown ?? false) !== (v.unknown ?? false) ||
      JSON.stringify(old.familyOut ?? {}) !== JSON.stringify(v.familyOut ?? {}) ||
      JSON.stringify(old.poolsOut ?? {}) !== JSON.stringify(v.poolsOut ?? {})
    )
      changes.push([
        region,
        {
          status: v.status,
          weight: v.weight ?? null,
          reason: v.reason,
          source: v.source,
          held: v.held,
          vantage: v.vantage ?? null,
          capacity:
            v.load === undefined && v.shed === undefined ? null : { load: v.load, shed: v.shed, shedAt: v.shedAt },
          damping: v.damping ?? null,
          storeLost: v.storeLost ?? null,
          unknown: v.unknown ?? false,
          familyOut: v.familyOut ?? null,
          poolsOut: v.poolsOut ?? null,
        },
      ]);
  }
  return changes;
}

const vantageKey = (v: RegionView['vantage']) =>
  v ? `${v.verdict}|${v.reachable.join()}|${v.unreachable.join()}|${v.blind.join()}` : '';

/** The merge's vantage input: reports of live points that are configured to count. */
function vantageOf(config: Config, reports: Map<string, VantageReport>) {
  const v = config.control?.vantage;
  return v && { reports, quorum: v.quorum, minReports: v.minReports };
}

/**
 * What the feed sees as it reads: the age of agents' reports (store lag plus clock skew), and how
 * long failures took to move this process's answers.
 */
export function feedMetrics(feed: RegionFeed, registry: Registry): void {
  const h = new Histogram({
    name: 'gtm_state_report_age_seconds',
    help: "Age of each new agent report when this process read it from the shared store (the store's lag, plus clock skew)",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [registry],
  });
  feed.onReportAge = (s) => h.observe(s);
  const failover = new Histogram({
    name: 'gtm_failover_seconds',
    help: "From the first sign of a region's failure its agents saw (a failed probe, a lost session, the last heartbeat) to health taking the region out of this process's answers",
    labelNames: ['region'],
    buckets: [0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120],
    registers: [registry],
  });
  feed.onFailover = (region, s) => failover.observe({ region }, s);
  new Gauge({
    name: 'gtm_state_store_silent_seconds',
    help: 'Seconds since the shared store last answered a read of this process (checked every second)',
    registers: [registry],
    collect() {
      this.set(feed.silentSeconds());
    },
  });
  new Gauge({
    name: 'gtm_health_signal',
    help: 'A pushed health signal (control.signals) as this process reads it: 1 up, 0 down, -1 unknown (never set or past its lease)',
    labelNames: ['signal'],
    registers: [registry],
    collect() {
      for (const s of feed.signalStates())
        this.set({ signal: s.name }, s.value === 'up' ? 1 : s.value === 'down' ? 0 : -1);
    },
  });
  new Gauge({
    name: 'gtm_state_store_lost',
    help: 'The control.store_lost fallback in force (1), by fallback: the store silent past max_stale_s',
    labelNames: ['fallback'],
    registers: [registry],
    collect() {
      const lost = feed.storeLost();
      for (const f of STORE_LOST_FALLBACKS) this.set({ fallback: f }, lost?.fallback === f ? 1 : 0);
    },
  });
}

/** How a process's store reads go, in its metrics and log: invalid entries, an unreadable state file. */
export function observeStore(store: StateStore, log: Logger, registry: Registry): void {
  if (store instanceof CheckedStore) invalidEntriesMetric(registry, () => store.invalid);
  const raw = unwrap(store);
  if (raw instanceof FileStateStore) watchStateReads(raw, log, registry);
}

/**
 * A shared state file that cannot be read is an operational emergency: say so loudly (once per
 * failure, and when it is readable again) and count every failed read. Meanwhile the store
 * keeps the last good state, with its leases expiring on the clock.
 */
function watchStateReads(store: FileStateStore, log: Logger, registry: Registry): void {
  stateReadErrorsMetric(registry, () => store.readErrors);
  store.onReadError((err) => {
    if (err)
      log.error(
        { err: err.message, path: store.path },
        'shared state unreadable: serving the last good state, leases still expire; repair or restore the file',
      );
    else log.warn({ path: store.path }, 'shared state readable again');
  });
}
