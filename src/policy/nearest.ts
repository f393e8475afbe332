// `nearest`: great-circle distance from the client's coordinates to each region's location.
import { distanceKm, unitVector } from '../geo/distance.js';
import { regionsBody } from './common.js';
import { int, join, obj, type Problems } from '../validate/index.js';
import type { Client, Ordering, PolicyContext, PolicyPlugin, PolicyRegion } from './types.js';

export interface NearestPolicy {
  kind: 'nearest';
  regions?: string[];
  /**
   * Geoproximity bias per region, -99..99 (Route 53's scale): a region's distance counts as
   * distance x (1 - bias/100), so a positive bias grows its catchment and a negative one shrinks it.
   */
  bias?: Record<string, number>;
}

/** The factor a bias puts on a distance. */
const factorOf = (bias: number) => 1 - bias / 100;

/**
 * Closeness after the bias: the biased great-circle angle mapped back onto the -1..1 scale
 * closeness uses (1: here, -1: the antipode), so ordering and the top-K pass stay as they are.
 */
function biased(list: string[], close: Float64Array, bias: Record<string, number>): Float64Array {
  const out = new Float64Array(close.length);
  for (let i = 0; i < close.length; i++) {
    const c = close[i] as number;
    const angle = Math.acos(Math.min(1, Math.max(-1, c)));
    out[i] = c === -Infinity ? c : 1 - (angle * factorOf(bias[list[i] as string] ?? 0)) / Math.PI;
  }
  return out;
}

/** Each region's point on the unit sphere, once per region object (a config is immutable). */
const points = new WeakMap<PolicyRegion, [number, number, number]>();
function pointOf(region: PolicyRegion): [number, number, number] {
  let p = points.get(region);
  if (!p) points.set(region, (p = unitVector(region.lat, region.lon)));
  return p;
}

/**
 * PolicyRegions from closest to farthest (ties in configured order). Up to 65,536 regions the sort
 * key is one number, distance quantised to 2^-36 of the sphere's range with the index below it,
 * sorted natively (no comparator calls: ~5x faster at 10,000 regions, where an ordering per
 * city is computed once and cached).
 */
function byCloseness(regions: string[], close: Float64Array): string[] {
  if (regions.length > 65_536) {
    const idx = Array.from(regions, (_, i) => i).sort((a, b) => (close[b] as number) - (close[a] as number) || a - b);
    return idx.map((i) => regions[i] as string);
  }
  const keys = new Float64Array(regions.length);
  for (let i = 0; i < regions.length; i++) {
    const c = close[i] as number;
    // 1 - c runs 0..2 (c = -Infinity: no location, sorts last).
    const far = c === -Infinity ? 2 ** 37 - 1 : Math.floor(((1 - c) / 2) * 2 ** 36);
    keys[i] = far * 65_536 + i;
  }
  keys.sort();
  const out = new Array<string>(regions.length);
  for (let i = 0; i < keys.length; i++) out[i] = regions[(keys[i] as number) % 65_536] as string;
  return out;
}

/** Past this many regions an ordering holds only the nearest TOP_K; the rest is computed on demand. */
const TRUNCATE_ABOVE = 256;
const TOP_K = 32;

/** The regions' points on the unit sphere as one array (x, y, z per region; NaN: no location). */
const tables = new WeakMap<string[], { regions: Map<string, PolicyRegion>; points: Float64Array }>();
function pointsOf(list: string[], regions: Map<string, PolicyRegion>): Float64Array {
  const t = tables.get(list);
  if (t && t.regions === regions) return t.points;
  const points = new Float64Array(list.length * 3).fill(NaN);
  list.forEach((name, i) => {
    const reg = regions.get(name);
    if (reg) points.set(pointOf(reg), i * 3);
  });
  tables.set(list, { regions, points });
  return points;
}

/** Closeness of each region to (lat, lon): a dot product of unit vectors (-Infinity: no location). */
function closeness(list: string[], ctx: PolicyContext, lat: number, lon: number): Float64Array {
  const [x, y, z] = unitVector(lat, lon);
  const pts = pointsOf(list, ctx.regions);
  const close = new Float64Array(list.length);
  for (let i = 0, j = 0; i < list.length; i++, j += 3) {
    const c = x * (pts[j] as number) + y * (pts[j + 1] as number) + z * (pts[j + 2] as number);
    close[i] = Number.isNaN(c) ? -Infinity : c;
  }
  return close;
}

/** Indexes of the k closest, closest first (ties in configured order): one pass, no full sort. */
function nearestK(close: Float64Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < close.length; i++) {
    const c = close[i] as number;
    if (best.length === k && c <= (close[best[k - 1] as number] as number)) continue;
    let at = best.length === k ? k - 1 : best.length;
    while (at > 0 && (close[best[at - 1] as number] as number) < c) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

export function nearestOrder(
  regions: string[],
  client: Client | undefined,
  ctx: PolicyContext,
  bias?: Record<string, number>,
): Ordering {
  const loc = client?.location;
  if (!loc || loc.lat === undefined || loc.lon === undefined) {
    return {
      candidates: regions,
      rule: 'nearest: client location unknown, configured order',
      scope: client ? client.geoPrefix : 0,
    };
  }
  const { lat, lon } = loc;
  const closeOf = () => {
    const c = closeness(regions, ctx, lat, lon);
    return bias ? biased(regions, c, bias) : c;
  };
  const close = closeOf();
  // With thousands of regions an ordering is made per city (and cached): keep only the nearest
  // few, which is all an answer needs unless they are all down; then the whole order is made.
  const truncated = regions.length > TRUNCATE_ABOVE;
  const candidates = truncated ? nearestK(close, TOP_K).map((i) => regions[i] as string) : byCloseness(regions, close);
  let all: string[] | undefined;
  const complete = truncated ? () => (all ??= byCloseness(regions, closeOf())) : undefined;
  const where = loc.coarse ? `country ${loc.country}` : `${lat.toFixed(2)},${lon.toFixed(2)}`;
  return {
    candidates,
    complete,
    // Built only when read (explain, logs): with thousands of regions it is the costly part.
    get rule() {
      const km = (r: string) => {
        const reg = ctx.regions.get(r);
        if (!reg) return 'no location';
        const d = distanceKm(lat, lon, reg.lat, reg.lon);
        const b = bias?.[r];
        return b === undefined
          ? `${Math.round(d)} km`
          : `${Math.round(d * factorOf(b))} km biased (${Math.round(d)} km, bias ${b > 0 ? '+' : ''}${b})`;
      };
      return `nearest to ${where}: ${candidates.map((r) => `${r} ${km(r)}`).join(', ')}${truncated ? ` (nearest ${TOP_K} of ${regions.length})` : ''}`;
    },
    scope: (client as Client).geoPrefix,
  };
}

export const nearest: PolicyPlugin<NearestPolicy> = {
  kind: 'nearest',
  bareWord: true,
  parse: (env, path, body) => {
    const b = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    const { bias: rawBias, ...rest } = b ?? {};
    const bias = rawBias === undefined ? undefined : biasOf(env.p, join(path, 'bias'), rawBias, env.pools);
    const regions = regionsBody(env.p, path, b ? rest : body, env.pools);
    return { kind: 'nearest', ...(regions ? { regions } : {}), ...(bias ? { bias } : {}) };
  },
  order: (policy, env) => nearestOrder(policy.regions ?? env.pools, env.client, env.ctx, policy.bias),
  locationOnly: () => true,
};

/** `bias: { REGION: -99..99, ... }`, for regions among the service's pools. */
function biasOf(p: Problems, path: string, v: unknown, pools: string[]): Record<string, number> | undefined {
  const o = obj(p, path, v);
  if (!o) return undefined;
  const out: Record<string, number> = {};
  for (const [region, n] of Object.entries(o)) {
    if (!pools.includes(region)) p.add(join(path, region), `not one of this service's pools (${pools.join(', ')})`);
    const b = int(p, join(path, region), n, -99, 99);
    if (b !== undefined) out[region] = b;
  }
  return out;
}
