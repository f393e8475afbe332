// `nearest`: great-circle distance from the client's coordinates to each region's location.
import { distanceKm } from '../geo/distance.js';
import { regionsBody } from './common.js';
import type { Client, Ordering, PolicyContext, PolicyPlugin } from './types.js';

export interface NearestPolicy {
  kind: 'nearest';
  regions?: string[];
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
  const withDist = regions.map((r) => {
    const reg = ctx.regions.get(r);
    return { r, d: reg ? distanceKm(lat, lon, reg.lat, reg.lon) : Infinity };
  });
  withDist.sort((a, b) => a.d - b.d);
  const where = loc.coarse ? `country ${loc.country}` : `${lat.toFixed(2)},${lon.toFixed(2)}`;
  return {
    candidates: withDist.map((x) => x.r),
    rule: `nearest to ${where}: ${withDist.map((x) => `${x.r} ${Math.round(x.d)} km`).join(', ')}`,
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
