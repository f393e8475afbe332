// `nearest`: great-circle distance from the client's coordinates to each region's location.
import type { Region } from '../config/types.js';
import { distanceKm, unitVector } from '../geo/distance.js';
import { regionsBody } from './common.js';
import type { Client, Ordering, PolicyContext, PolicyPlugin } from './types.js';

export interface NearestPolicy {
  kind: 'nearest';
  regions?: string[];
}

/** Each region's point on the unit sphere, once per region object (a config is immutable). */
const points = new WeakMap<Region, [number, number, number]>();
function pointOf(region: Region): [number, number, number] {
  let p = points.get(region);
  if (!p) points.set(region, (p = unitVector(region.lat, region.lon)));
  return p;
}

export function nearestOrder(regions: string[], client: Client | undefined, ctx: PolicyContext): Ordering {
  const loc = client?.location;
  if (!loc || loc.lat === undefined || loc.lon === undefined) {
    return {
      candidates: regions,
      rule: 'nearest: client location unknown, configured order',
      scope: client ? client.geoPrefix : 0,
    };
  }
  const { lat, lon } = loc;
  // Closeness as a dot product of unit vectors (3 multiplications per region, no trigonometry);
  // a region without a location sorts last. The callers cache the ordering per location.
  const [x, y, z] = unitVector(lat, lon);
  const close = new Float64Array(regions.length);
  for (let i = 0; i < regions.length; i++) {
    const reg = ctx.regions.get(regions[i] as string);
    if (!reg) close[i] = -Infinity;
    else {
      const p = pointOf(reg);
      close[i] = x * p[0] + y * p[1] + z * p[2];
    }
  }
  const idx = Array.from(regions, (_, i) => i).sort((a, b) => (close[b] as number) - (close[a] as number) || a - b);
  const candidates = idx.map((i) => regions[i] as string);
  const where = loc.coarse ? `country ${loc.country}` : `${lat.toFixed(2)},${lon.toFixed(2)}`;
  return {
    candidates,
    // Built only when read (explain, logs): with thousands of regions it is the costly part.
    get rule() {
      const km = (r: string) => {
        const reg = ctx.regions.get(r);
        return reg ? `${Math.round(distanceKm(lat, lon, reg.lat, reg.lon))} km` : 'no location';
      };
      return `nearest to ${where}: ${candidates.map((r) => `${r} ${km(r)}`).join(', ')}`;
    },
    scope: (client as Client).geoPrefix,
  };
}

export const nearest: PolicyPlugin<NearestPolicy> = {
  kind: 'nearest',
  bareWord: true,
  parse: (env, path, body) => ({ kind: 'nearest', regions: regionsBody(env.p, path, body, env.pools) }),
  order: (policy, env) => nearestOrder(policy.regions ?? env.pools, env.client, env.ctx),
  locationOnly: () => true,
};
