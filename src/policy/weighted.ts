// `weighted`: a draw by weight (pool weight, or an operator's override); weight 0 last. With
// `sticky`, the draw is a hash of the client's subnet instead of a random number: weighted
// rendezvous hashing, so a subnet keeps its region while that region is healthy and the weights
// hold, and when a region fails or a weight changes only the subnets that must move do.
import { FNV_OFFSET, fnvStep, fnvString, mix32 } from '../runtime/index.js';
import { join, int, obj } from '../validate/index.js';
import { regionList } from './common.js';
import type { Client, PolicyPlugin } from './types.js';

export interface WeightedPolicy {
  kind: 'weighted';
  regions?: string[];
  /** Hash the client's subnet of this length (IPv4, IPv6) instead of drawing at random. */
  sticky?: { v4: number; v6: number };
}

/** FNV-1a over the client's subnet and the region's name, then a murmur3 finaliser: uniform 32 bits. */
function hash(addr: Uint8Array, bits: number, region: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    h = fnvStep(h, (addr[i] as number) & (0xff << (8 - keep)) & 0xff);
  }
  return mix32(fnvString(region, h));
}

/** A number in (0, 1): random, or the client subnet's hash with the region (sticky). */
function drawFor(policy: WeightedPolicy, client: Client | undefined, random: () => number) {
  const s = policy.sticky;
  if (!s || !client) return () => 1 - random();
  const bits = client.family === 6 ? s.v6 : s.v4;
  return (region: string) => (hash(client.address, bits, region) + 0.5) / 2 ** 32;
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
    const weights = regions.map((r) => Math.max(0, ctx.weightOf(r)));
    const draw = drawFor(policy, client, ctx.random);
    const race = weights.map((w, i) => (w > 0 ? -Math.log(draw(regions[i] as string)) / w : Infinity));
    const idx = Array.from(regions, (_, i) => i).sort((a, b) => (race[a] as number) - (race[b] as number) || a - b);
    const sticky = policy.sticky && client ? (client.family === 6 ? policy.sticky.v6 : policy.sticky.v4) : 0;
    return {
      candidates: idx.map((i) => regions[i] as string),
      get rule() {
        const how = sticky ? `sticky by /${sticky} (rendezvous hashing) ` : '';
        return `weighted ${how}${regions.map((r, i) => `${r}=${weights[i]}`).join(' ')}`;
      },
      scope: sticky,
    };
  },
  locationOnly: () => false,
};
