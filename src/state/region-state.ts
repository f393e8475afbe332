// The one interface through which DNS learns region health and weight overrides. It starts
// from the config; a RegionFeed keeps it following the shared store (agents' heartbeats,
// operators' overrides), and tests set it directly.
import type { Config } from '../config/index.js';
import type { RegionSource, RegionStatus, RegionView, VantageView } from '../contract/index.js';

export type { RegionView };

export interface RegionStateSource {
  get(region: string): RegionView | undefined;
  /** Operator weight for one steered name (service key) in one region, if set. */
  serviceWeight(service: string, region: string): number | undefined;
  /** Called once after every change or batch of changes, with the regions that changed. */
  subscribe(listener: (regions: string[]) => void): () => void;
  /** Called after the per-service weights change (answers remembered per client depend on them). */
  onServiceWeights?(listener: (weights: Record<string, number>) => void): () => void;
}

export type RegionSnapshot = Record<string, RegionView>;

/** A part of a change: null clears it, undefined keeps the old value. */
const next = <T>(change: T | null | undefined, old: T | undefined): T | undefined =>
  change === null ? undefined : (change ?? old);

/** In-memory state, seeded from the config; the DNS server's default source. */
export class InMemoryRegionState implements RegionStateSource {
  private readonly views = new Map<string, RegionView>();
  private readonly listeners = new Set<(regions: string[]) => void>();
  /** Set while a batch is applied: listeners hear once at its end. */
  private batch?: string[];
  private serviceWeights: Record<string, number> = {};
  /** The same, by service then region: read per region per weighted answer, so no key is built. */
  private weightsByService = new Map<string, Map<string, number>>();
  private readonly weightListeners = new Set<(weights: Record<string, number>) => void>();

  constructor(initial: Iterable<[string, { status: RegionStatus; weight?: number }]> = []) {
    for (const [name, v] of initial) this.views.set(name, { status: v.status, since: Date.now(), source: 'config' });
  }

  /** Every configured region at its configured (start-up) status. */
  static fromConfig(config: Pick<Config, 'regions'>): InMemoryRegionState {
    return new InMemoryRegionState([...config.regions.values()].map((r) => [r.name, { status: r.status }]));
  }

  /** Adds regions a reloaded config introduced, at their configured status. */
  addMissing(config: Pick<Config, 'regions'>): void {
    for (const r of config.regions.values())
      if (!this.views.has(r.name)) this.set(r.name, { status: r.status, source: 'config' });
  }

  get(region: string): RegionView | undefined {
    return this.views.get(region);
  }

  set(
    region: string,
    change: {
      status?: RegionStatus;
      weight?: number | null;
      reason?: string;
      source?: RegionSource;
      held?: boolean;
      /** null: vantage probing no longer configured. */
      vantage?: VantageView | null;
      /** The region's load and shed share (null: no longer reported or shed). */
      capacity?: Pick<RegionView, 'load' | 'shed' | 'shedAt'> | null;
      /** Flap damping's state (null: damping off). */
      damping?: RegionView['damping'] | null;
      /** The store-lost fallback that applies (null: the store answers). */
      storeLost?: RegionView['storeLost'] | null;
      /** No evidence yet (false: there is some). */
      unknown?: boolean;
      /** Out for one address family alone (null: for none). */
      familyOut?: RegionView['familyOut'] | null;
      /** Names whose pool here is out on its own health (null: none). */
      poolsOut?: RegionView['poolsOut'] | null;
    },
  ): RegionView {
    const old = this.views.get(region) ?? { status: 'up' as RegionStatus, since: Date.now() };
    const status = change.status ?? old.status;
    const view: RegionView = {
      status,
      weight: next(change.weight, old.weight),
      reason: change.reason ?? old.reason,
      since: status === old.status ? old.since : Date.now(),
      source: change.source ?? old.source,
      held: change.held ?? old.held,
    };
    const vantage = next(change.vantage, old.vantage);
    if (vantage) view.vantage = vantage;
    const capacity =
      change.capacity === null
        ? undefined
        : (change.capacity ?? { load: old.load, shed: old.shed, shedAt: old.shedAt });
    if (capacity?.load !== undefined) view.load = capacity.load;
    if (capacity?.shed !== undefined) ((view.shed = capacity.shed), (view.shedAt = capacity.shedAt));
    const damping = next(change.damping, old.damping);
    if (damping) view.damping = damping;
    const storeLost = next(change.storeLost, old.storeLost);
    if (storeLost) view.storeLost = storeLost;
    if (change.unknown ?? old.unknown) view.unknown = true;
    const familyOut = next(change.familyOut, old.familyOut);
    if (familyOut) view.familyOut = familyOut;
    const poolsOut = next(change.poolsOut, old.poolsOut);
    if (poolsOut) view.poolsOut = poolsOut;
    // A change of a region that had a status already (not the first one it is given).
    const flappedAt = this.views.has(region) && status !== old.status ? Date.now() : old.flappedAt;
    if (flappedAt !== undefined) view.flappedAt = flappedAt;
    this.views.set(region, view);
    if (this.batch) this.batch.push(region);
    else for (const l of this.listeners) l([region]);
    return view;
  }

  /** Applies several changes and tells listeners once (one snapshot per merge, not per region). */
  setMany(changes: [string, Parameters<InMemoryRegionState['set']>[1]][]): void {
    if (changes.length === 0) return;
    const batch: string[] = [];
    this.batch = batch;
    try {
      for (const [region, change] of changes) this.set(region, change);
    } finally {
      this.batch = undefined;
    }
    for (const l of this.listeners) l(batch);
  }

  snapshot(): RegionSnapshot {
    return Object.fromEntries(this.views);
  }

  /** Replaces every view at once (e.g. a snapshot sent to a DNS worker process). */
  load(snapshot: RegionSnapshot): void {
    for (const [region, view] of Object.entries(snapshot)) this.views.set(region, view);
    const regions = Object.keys(snapshot);
    if (regions.length) for (const l of this.listeners) l(regions);
  }

  serviceWeight(service: string, region: string): number | undefined {
    return this.weightsByService.get(service)?.get(region);
  }

  /** Replaces the per-service weights ("service/region" -> weight). */
  setServiceWeights(weights: Record<string, number>): void {
    if (JSON.stringify(weights) === JSON.stringify(this.serviceWeights)) return;
    this.serviceWeights = { ...weights };
    this.weightsByService = new Map();
    for (const [key, w] of Object.entries(weights)) {
      const at = key.lastIndexOf('/');
      const service = key.slice(0, at);
      let m = this.weightsByService.get(service);
      if (!m) this.weightsByService.set(service, (m = new Map()));
      m.set(key.slice(at + 1), w);
    }
    for (const l of this.weightListeners) l(this.serviceWeights);
  }

  allServiceWeights(): Record<string, number> {
    return { ...this.serviceWeights };
  }

  onServiceWeights(listener: (weights: Record<string, number>) => void): () => void {
    this.weightListeners.add(listener);
    return () => this.weightListeners.delete(listener);
  }

  subscribe(listener: (regions: string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Listeners now subscribed: a number that must not grow with requests (each answerer is one). */
  get subscribers(): number {
    return this.listeners.size;
  }
}
