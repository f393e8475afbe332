// The health filter and the fail-open rule, applied to a policy's ordering.
import type { RegionStatus } from '../contract/index.js';
import type { Pool, SteeredService as Service } from './types.js';

export interface Selection {
  pools: Pool[];
  /** Health of each candidate, in candidate order (for explain; computed when read). */
  readonly health: { region: string; status: RegionStatus }[];
  failOpen: 'none' | 'last-resort' | 'all-candidates';
}

/** A selection whose per-candidate health is computed only when read (explain). */
class Selected implements Selection {
  constructor(
    readonly pools: Pool[],
    readonly failOpen: Selection['failOpen'],
    private readonly candidates: () => readonly string[],
    private readonly statusOf: (region: string) => RegionStatus,
  ) {}

  get health(): { region: string; status: RegionStatus }[] {
    return this.candidates().map((region) => ({ region, status: this.statusOf(region) }));
  }
}

/** Each service's pools by region, built once per service object (a config is immutable). */
const poolIndex = new WeakMap<Service, Map<string, Pool>>();

export function poolOf(service: Service, region: string): Pool | undefined {
  let index = poolIndex.get(service);
  if (!index) {
    index = new Map(service.pools.map((p) => [p.region, p]));
    poolIndex.set(service, index);
  }
  return index.get(region);
}

/**
 * Filters candidates by health and takes `answers` of them (0 = all healthy). If no
 * candidate is up the answer fails open: to the service's last resort, else to every
 * candidate. It is never empty while some pool has an address of the asked family (or an alias).
 *
 * An alias (a `cname` pool) cannot share an answer with anything (a CNAME stands alone at its
 * name): when one comes first it is the whole answer; after an address pool, aliases are passed.
 *
 * The walk stops at the `answers`-th healthy candidate, so with thousands of regions a query
 * costs what it takes to find its answer, not a pass over every region.
 */
export function select(
  service: Service,
  candidates: readonly string[],
  family: 4 | 6,
  statusOf: (region: string) => RegionStatus,
  /** The whole order when `candidates` is only its head (see Ordering.complete). */
  complete?: () => readonly string[],
): Selection {
  const usable = (r: string): Pool | undefined => {
    const p = poolOf(service, r);
    return p && (p.cname || (family === 4 ? p.vip4 : p.vip6)) ? p : undefined;
  };
  const want = service.answers === 0 ? Infinity : service.answers;
  const full = (list: Pool[]) => list.length >= want || list[0]?.cname !== undefined;
  const every = complete ?? (() => candidates);
  const result = (pools: Pool[], failOpen: Selection['failOpen']): Selection =>
    new Selected(pools, failOpen, every, statusOf);
  const up: Pool[] = [];
  const consider = (r: string) => {
    if (statusOf(r) !== 'up') return;
    const p = usable(r);
    if (p && !(p.cname && up.length)) up.push(p);
  };
  for (let i = 0; i < candidates.length && !full(up); i++) consider(candidates[i] as string);
  if (!full(up) && complete) {
    // The head did not hold enough healthy regions: walk the whole order past it.
    const head = new Set(candidates);
    for (const r of complete()) {
      if (full(up)) break;
      if (!head.has(r)) consider(r);
    }
  }
  if (up.length) return result(up, 'none');
  const take = (list: Pool[]) => {
    if (list[0]?.cname) return list.slice(0, 1);
    const addresses = list.filter((p) => !p.cname);
    return want === Infinity ? addresses : addresses.slice(0, want);
  };
  const resort = service.lastResort.map(usable).filter((p): p is Pool => p !== undefined);
  if (resort.length) return result(take(resort), 'last-resort');
  const all = every()
    .map(usable)
    .filter((p): p is Pool => p !== undefined);
  return result(take(all), 'all-candidates');
}
