// `weighted`: a draw by weight (pool weight, or an operator's override); weight 0 last. With
// `sticky`, the draw is a hash of the client's subnet instead of a random number: weighted
// rendezvous hashing, so a subnet keeps its region while that region is healthy and the weights
// hold, and when a region fails or a weight changes only the subnets that must move do.
import { fnvString, mix32, subnetHash } from '../runtime/index.js';
import { join, int, obj } from '../validate/index.js';
import { regionList } from './common.js';
import { weightTableOf, type Client, type Ordering, type PolicyPlugin, type WeightTable } from './types.js';

export interface WeightedPolicy {
  kind: 'weighted';
  regions?: string[];
  /** Hash the client's subnet of this length (IPv4, IPv6) instead of drawing at random. */
  sticky?: { v4: number; v6: number };
}

/** Each region list's name hashes, made once per list (a config's lists are fixed). */
const hashTables = new WeakMap<string[], Uint32Array>();
function regionHashes(regions: string[]): Uint32Array {
  let t = hashTables.get(regions);
  if (!t) hashTables.set(regions, (t = Uint32Array.from(regions, (r) => mix32(fnvString(r)))));
  return t;
}

/**
 * A number in (0, 1) per region (by index in `regions`): random, or (sticky) a hash of the subnet
 * with the region. The two hashes are combined and finalised twice, the subnet's mixed in again,
 * so no pair of subnets and regions shares values by the symmetry of a plain XOR.
 */
function drawFor(policy: WeightedPolicy, regions: string[], client: Client | undefined, random: () => number) {
  const s = policy.sticky;
  if (!s || !client) return () => 1 - random();
  const subnet = subnetHash(client.address, client.family === 6 ? s.v6 : s.v4);
  const names = regionHashes(regions);
  return (i: number) => (mix32(mix32(subnet ^ (names[i] as number)) ^ subnet) + 0.5) / 2 ** 32;
}

/**
 * `k` regions drawn one at a time in proportion to weight among those not drawn yet: a point in
 * the weight left, mapped over the running sums past the intervals already drawn (no retries, so
 * no pick is more likely than the weights say). O(k log R + k²).
 */
function drawHead(t: WeightTable, k: number, random: () => number): number[] {
  const n = t.sums.length;
  const want = Math.min(k, t.positive);
  const drawn: number[] = [];
  const inOrder: number[] = []; // the same, by index
  let left = t.sums[n - 1] as number;
  while (drawn.length < want && left > 0) {
    let x = random() * left;
    // Past every drawn interval that starts at or before the point (in index order).
    for (const d of inOrder) {
      if ((t.sums[d] as number) - (t.weights[d] as number) <= x) x += t.weights[d] as number;
      else break;
    }
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((t.sums[mid] as number) > x) hi = mid;
      else lo = mid + 1;
    }
    // Rounding may land on a drawn or empty interval: the next one that can be drawn.
    while ((drawn.includes(lo) || !((t.weights[lo] as number) > 0)) && lo < n - 1) lo++;
    if (drawn.includes(lo) || !((t.weights[lo] as number) > 0)) break;
    drawn.push(lo);
    let at = inOrder.length;
    while (at > 0 && (inOrder[at - 1] as number) > lo) at--;
    inOrder.splice(at, 0, lo);
    left -= t.weights[lo] as number;
  }
  return drawn;
}

/** Each region's time in the race (-1: drawn already, Infinity: weight 0). */
function raceOf(t: WeightTable, draw: (i: number) => number, skip?: readonly number[]): Float64Array {
  const race = new Float64Array(t.weights.length);
  for (let i = 0; i < race.length; i++) {
    const w = t.weights[i] as number;
    race[i] = w > 0 ? -Math.log(draw(i)) / w : Infinity;
  }
  for (const i of skip ?? []) race[i] = -1;
  return race;
}

/** Indexes by race time (ties in configured order), the drawn (-1) left out. */
function byRace(race: Float64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < race.length; i++) if ((race[i] as number) >= 0) out.push(i);
  return out.sort((a, b) => (race[a] as number) - (race[b] as number) || a - b);
}

/** Past this many regions an ordering holds the first HEAD by race; the whole order is sorted when asked. */
const HEAD = 8;

/** Indexes of the `k` earliest races, earliest first (ties in configured order): one pass. */
function earliest(race: Float64Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < race.length; i++) {
    const t = race[i] as number;
    if (best.length === k && t >= (race[best[k - 1] as number] as number)) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && (race[best[at - 1] as number] as number) > t) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

/** What `explain` says of a weighted ordering: the weights drawn from, and how (sticky by /N). */
function ruleOf(regions: string[], table: WeightTable, sticky: number): string {
  const how = sticky ? `sticky by /${sticky} (rendezvous hashing) ` : '';
  return `weighted ${how}${regions.map((r, i) => `${r}=${table.weights[i]}`).join(' ')}`;
}

/**
 * Random over a short list: the whole order drawn one region at a time from the running sums,
 * weight 0 after in configured order (where the race puts them), and one ordering object per
 * permutation kept on the table. Measured: the race's arrays, sort and closures per answer were
 * most of a worker's garbage (46% of its busy time in GC, weighted over 3 at 0.66x nearest).
 */
function drawnOrdering(table: WeightTable, regions: string[], random: () => number): Ordering {
  const drawn = drawHead(table, regions.length, random);
  let key = 0;
  for (const i of drawn) key = key * (HEAD + 1) + i + 1;
  const kept = (table.orderings ??= new Map());
  let o = kept.get(key);
  if (!o) {
    const order = [...drawn, ...regions.map((_, i) => i).filter((i) => !drawn.includes(i))];
    o = { candidates: order.map((i) => regions[i] as string), rule: ruleOf(regions, table, 0), scope: 0 };
    kept.set(key, o);
  }
  return o;
}

export const weighted: PolicyPlugin<WeightedPolicy> = {
  kind: 'weighted',
  bareWord: true,
  parse(env, path, body) {
    if (body === undefined || body === null) return { kind: 'weighted' };
    const b = obj(env.p, path, body, ['regions', 'sticky']);
    const regions = b ? regionList(env.p, join(path, 'regions'), b.regions, env.pools, true) : undefined;
    if (!b || b.sticky === undefined || b.sticky === false) return { kind: 'weighted', regions };
    if (b.sticky === true) return { kind: 'weighted', regions, sticky: { v4: 24, v6: 56 } };
    const s = obj(env.p, join(path, 'sticky'), b.sticky, ['ipv4_prefix', 'ipv6_prefix']);
    const v4 = int(env.p, join(path, 'sticky.ipv4_prefix'), s?.ipv4_prefix, 1, 32, 24) ?? 24;
    const v6 = int(env.p, join(path, 'sticky.ipv6_prefix'), s?.ipv6_prefix, 1, 128, 56) ?? 56;
    return { kind: 'weighted', regions, sticky: { v4, v6 } };
  },
  order(policy, { pools, ctx, client }) {
    // Sampling without replacement in proportion to weight, in one pass: each region draws
    // the time of an exponential race at rate = its weight and the earliest runs first
    // (the same distribution as drawing one at a time, O(R log R) instead of O(R²)). So the
    // first healthy candidate is drawn in proportion to its weight among the healthy ones.
    // Sticky, the draw is the subnet's hash: the race is then weighted rendezvous hashing (a
    // region's time for a subnet never changes while its weight holds, so removing a region
    // moves only the subnets it led; a weight change moves only what the weights say).
    const regions = policy.regions ?? pools;
    const table = ctx.weightTable?.(regions) ?? weightTableOf(regions, (r) => ctx.weightOf(r));
    if (!policy.sticky && regions.length <= HEAD) return drawnOrdering(table, regions, ctx.random);
    // Random, with many regions: the head drawn one at a time from the running sums (O(log R)
    // each); the rest, when asked, by a race among the others (the same distribution, as the
    // race is memoryless). Sticky, every region's hash is needed anyway: the race, head first.
    let head: number[];
    let sorted: () => number[];
    if (!policy.sticky && regions.length > HEAD) {
      const drawn = (head = drawHead(table, HEAD, ctx.random));
      sorted = () => [...drawn, ...byRace(raceOf(table, drawFor(policy, regions, client, ctx.random), drawn))];
    } else {
      const race = raceOf(table, drawFor(policy, regions, client, ctx.random));
      head = regions.length > HEAD ? earliest(race, HEAD) : byRace(race);
      sorted = () => byRace(race);
    }
    let all: string[] | undefined;
    const sticky = policy.sticky && client ? (client.family === 6 ? policy.sticky.v6 : policy.sticky.v4) : 0;
    return {
      candidates: head.map((i) => regions[i] as string),
      complete: regions.length > HEAD ? () => (all ??= sorted().map((i) => regions[i] as string)) : undefined,
      get rule() {
        return ruleOf(regions, table, sticky);
      },
      scope: sticky,
    };
  },
  locationOnly: () => false,
};
