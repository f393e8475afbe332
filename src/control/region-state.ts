// The one interface through which DNS learns region health and weight overrides. It starts
// from the config; a RegionFeed keeps it following the shared store (agents' heartbeats,
// operators' overrides), and tests set it directly.
import type { RegionStatus } from '../config/index.js';

export interface RegionView {
  status: RegionStatus;
  /** Weight override; undefined means "use the configured weight". */
  weight?: number;
  reason?: string;
  since: number;
}

export interface RegionStateSource {
  get(region: string): RegionView | undefined;
  /** Operator weight for one steered name (service key) in one region, if set. */
  serviceWeight(service: string, region: string): number | undefined;
  /** Called after every change, with the region that changed. */
  subscribe(listener: (region: string, view: RegionView) => void): () => void;
}

export type RegionSnapshot = Record<string, RegionView>;

/** In-memory state, seeded from the config; the DNS server's default source. */
export class InMemoryRegionState implements RegionStateSource {
  private readonly views = new Map<string, RegionView>();
  private readonly listeners = new Set<(region: string, view: RegionView) => void>();
  private serviceWeights: Record<string, number> = {};
  private readonly weightListeners = new Set<(weights: Record<string, number>) => void>();

  constructor(initial: Iterable<[string, { status: RegionStatus; weight?: number }]> = []) {
    for (const [name, v] of initial) this.views.set(name, { status: v.status, since: Date.now() });
  }

  get(region: string): RegionView | undefined {
    return this.views.get(region);
  }

  set(region: string, change: { status?: RegionStatus; weight?: number | null; reason?: string }): RegionView {
    const old = this.views.get(region) ?? { status: 'up' as RegionStatus, since: Date.now() };
    const status = change.status ?? old.status;
    const view: RegionView = {
      status,
      weight: change.weight === null ? undefined : (change.weight ?? old.weight),
      reason: change.reason ?? old.reason,
      since: status === old.status ? old.since : Date.now(),
    };
    this.views.set(region, view);
    for (const l of this.listeners) l(region, view);
    return view;
  }

  snapshot(): RegionSnapshot {
    return Object.fromEntries(this.views);
  }

  /** Replaces every view at once (e.g. a snapshot sent to a DNS worker process). */
  load(snapshot: RegionSnapshot): void {
    for (const [region, view] of Object.entries(snapshot)) {
      this.views.set(region, view);
      for (const l of this.listeners) l(region, view);
    }
  }

  serviceWeight(service: string, region: string): number | undefined {
    return this.serviceWeights[`${service}/${region}`];
  }

  /** Replaces the per-service weights ("service/region" -> weight). */
  setServiceWeights(weights: Record<string, number>): void {
    if (JSON.stringify(weights) === JSON.stringify(this.serviceWeights)) return;
    this.serviceWeights = { ...weights };
    for (const l of this.weightListeners) l(this.serviceWeights);
  }

  allServiceWeights(): Record<string, number> {
    return { ...this.serviceWeights };
  }

  onServiceWeights(listener: (weights: Record<string, number>) => void): () => void {
    this.weightListeners.add(listener);
    return () => this.weightListeners.delete(listener);
  }

  subscribe(listener: (region: string, view: RegionView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
