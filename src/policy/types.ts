// What every policy plugin sees and returns. Pure: no sockets, no timers, no geo reader.
import type { Problems } from '../validate/index.js';
import type { Location } from '../geo/types.js';

/** What a policy reads of a region (the config's regions have it and more). */
export interface PolicyRegion {
  name: string;
  lat: number;
  lon: number;
}

/**
 * One answer a service can give: a region's addresses, or an alias to another provider's name
 * (`cname`: a CDN, a cloud load balancer), with the pool's own weight.
 */
export interface Pool {
  region: string;
  vip4?: string;
  vip6?: string;
  /** Answer a CNAME to this absolute name instead of addresses. */
  cname?: string;
  weight: number;
}

/** What the health filter reads of a service (the config's services have it and more). */
export interface SteeredService {
  /** How many addresses to answer with; 0 means every healthy candidate. */
  answers: number;
  pools: Pool[];
  /** Regions answered when no candidate is healthy; empty means all candidates. */
  lastResort: string[];
}

export interface Client {
  /** Address bytes (4 or 16) that the decision is made from (ECS subnet or resolver). */
  address: Uint8Array;
  family: 4 | 6;
  location?: Location;
  /** Database network length containing the address. */
  geoPrefix: number;
  /** The origin AS holding the address, when fencing rules need it (src/geo/asn.ts). */
  asn?: number;
  asnOrg?: string;
  /** The shortest prefix around the address within one AS range (or gap). */
  asnPrefix?: number;
}

/** Weights (negative read as 0) of a region list, and their inclusive running sums. */
export interface WeightTable {
  weights: Float64Array;
  sums: Float64Array;
  /** How many have a weight above 0. */
  positive: number;
  /**
   * The orderings drawn from this table so far, by permutation (short lists drawn at random: a
   * handful of permutations, each one object). Goes with the table when weights or health change.
   */
  orderings?: Map<number, Ordering>;
}

/** The table for `regions` as `weightOf` says now. */
export function weightTableOf(regions: readonly string[], weightOf: (region: string) => number): WeightTable {
  const weights = new Float64Array(regions.length);
  const sums = new Float64Array(regions.length);
  let total = 0;
  let positive = 0;
  for (let i = 0; i < regions.length; i++) {
    const w = Math.max(0, weightOf(regions[i] as string));
    weights[i] = w;
    total += w;
    sums[i] = total;
    if (w > 0) positive++;
  }
  return { weights, sums, positive };
}

export interface PolicyContext {
  regions: Map<string, PolicyRegion>;
  weightOf(region: string): number;
  random(): number;
  /**
   * The weights of a region list with their running sums, when the caller keeps them between
   * changes of state (the DNS does, per service): a weighted draw then costs O(log R), not O(R).
   */
  weightTable?(regions: string[]): WeightTable;
}

export interface Ordering {
  candidates: string[];
  /** Human-readable rule that decided (for `gtm explain` and logs); may be a getter, built when read. */
  rule: string;
  /** Bits of the client address the ordering depends on; 0 = same for every client. */
  scope: number;
  /**
   * When `candidates` holds only the first few (an ordering over thousands of regions): the
   * whole order, computed when asked (every candidate down, failover tiers, explain).
   */
  complete?: () => string[];
}

/** Every candidate of an ordering, in order. */
export function allCandidates(o: Ordering): string[] {
  return o.complete ? o.complete() : o.candidates;
}

/** Parsing one policy's config: where problems go, and the service's pool regions. */
export interface ParseEnv {
  p: Problems;
  pools: string[];
  /** Parses a nested policy (failover tiers). */
  policy(path: string, v: unknown): { kind: string };
}

/** Ordering one policy for one client; `sub` orders a nested policy (failover tiers). */
export interface OrderEnv {
  pools: string[];
  client: Client | undefined;
  ctx: PolicyContext;
  sub(policy: { kind: string }): Ordering;
}

export interface PolicyPlugin<P extends { kind: string }> {
  kind: P['kind'];
  /** `policy: nearest` (a bare word) is allowed and means the defaults. */
  bareWord: boolean;
  /** Parses the body under `{ <kind>: body }` (undefined for the bare word). */
  parse(env: ParseEnv, path: string, body: unknown): P;
  order(policy: P, env: OrderEnv): Ordering;
  /** Whether the ordering depends only on the client's location (cacheable per geo record). */
  locationOnly(policy: P, sub: (p: { kind: string }) => boolean): boolean;
}
