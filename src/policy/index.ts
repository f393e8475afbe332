// Public entry of the policy capability (pure): steering policies as plugins. Each kind is one
// file (parse + order + whether it depends only on the client's location), registered in the
// table below; `select` then filters the ordering by health and applies the fail-open rule.
import { join, obj, type Problems } from '../validate/index.js';
import { allHealthy, type AllHealthyPolicy } from './all-healthy.js';
import { failover, type FailoverPolicy } from './failover.js';
import { geo, type GeoPolicy } from './geo.js';
import { latency, type LatencyPolicy } from './latency.js';
import { nearest, type NearestPolicy } from './nearest.js';
import { staticRegion, type StaticPolicy } from './static.js';
import type { Client, Ordering, PolicyContext, PolicyPlugin } from './types.js';
import { weighted, type WeightedPolicy } from './weighted.js';

export type { Client, Ordering, PolicyContext, PolicyRegion, Pool, SteeredService, WeightTable } from './types.js';
export { allCandidates, weightTableOf } from './types.js';
export type { LatencyNetwork } from './latency.js';
export { poolOf, select, type Selection } from './select.js';
export { applyShed, shedDraw, SHED_PREFIX, type Shed } from './capacity.js';
export { applyFence, fenceUsesAsn, matchFence, parseFence, type FenceMatch, type FenceRule } from './fence.js';
export { steer, ttlFor, type Steering, type TtlRule } from './steer.js';

/** Every policy kind: adding one is a new file, a line here and a row in the README. */
export type Policy =
  NearestPolicy | GeoPolicy | LatencyPolicy | WeightedPolicy | FailoverPolicy<Policy> | StaticPolicy | AllHealthyPolicy;
const PLUGINS = [nearest, geo, latency, weighted, failover, allHealthy, staticRegion] as const;

const byKind = new Map<string, PolicyPlugin<Policy>>(
  PLUGINS.map((p) => [p.kind, p as unknown as PolicyPlugin<Policy>]),
);
/** The kinds a config may name as `{ <kind>: ... }`. */
export const POLICY_KINDS = PLUGINS.filter((p) => p !== staticRegion).map((p) => p.kind);
const BARE_WORDS = PLUGINS.filter((p) => p.bareWord).map((p) => p.kind);

function plugin(policy: { kind: string }): PolicyPlugin<Policy> {
  const p = byKind.get(policy.kind);
  if (!p) throw new Error(`unknown policy kind ${policy.kind}`);
  return p;
}

/** Parses `policy:` of a service: a bare word, a region name, or `{ <kind>: body }`. */
export function parsePolicy(p: Problems, path: string, v: unknown, pools: string[]): Policy {
  const env = { p, pools, policy: (sp: string, sv: unknown) => parsePolicy(p, sp, sv, pools) };
  if (typeof v === 'string') {
    if ((BARE_WORDS as readonly string[]).includes(v)) return plugin({ kind: v }).parse(env, path, undefined);
    if (pools.includes(v)) return staticRegion.parse(env, path, v);
    p.add(path, `unknown policy ${JSON.stringify(v)} (expected ${POLICY_KINDS.join(', ')} or a region name)`);
    return { kind: 'nearest' };
  }
  const o = obj(p, path, v);
  if (!o) return { kind: 'nearest' };
  const keys = Object.keys(o);
  const kind = keys[0] as string;
  if (keys.length !== 1 || !(POLICY_KINDS as readonly string[]).includes(kind)) {
    p.add(path, `must have exactly one of: ${POLICY_KINDS.join(', ')}`);
    return { kind: 'nearest' };
  }
  return plugin({ kind }).parse(env, join(path, kind), o[kind]);
}

/** Orders a service's candidate regions for one client. */
export function order(policy: Policy, pools: string[], client: Client | undefined, ctx: PolicyContext): Ordering {
  return plugin(policy).order(policy, { pools, client, ctx, sub: (tier) => order(tier as Policy, pools, client, ctx) });
}

/** Whether the ordering depends only on the client's location (not its address, not chance). */
export function locationOnly(policy: Policy): boolean {
  return plugin(policy).locationOnly(policy, (tier) => locationOnly(tier as Policy));
}

/**
 * Whether the ordering depends on chance (a weighted draw that is not sticky). Otherwise it is the
 * same for the same client, weights and health, so the answer a client got may be given again.
 */
export function usesChance(policy: Policy): boolean {
  if (policy.kind === 'weighted') return !policy.sticky;
  if (policy.kind === 'failover') return policy.tiers.some(usesChance);
  return false;
}

/** One word per policy for summaries: `failover(us-east > nearest)`. */
export function describePolicy(p: Policy): string {
  return p.kind === 'failover'
    ? `failover(${p.tiers.map(describePolicy).join(' > ')})`
    : p.kind === 'static'
      ? p.regions.join('')
      : p.kind;
}
