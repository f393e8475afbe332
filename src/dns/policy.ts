// Pure answer policy: no sockets, no timers. A policy orders candidate regions for a
// client; `select` then filters by health and applies the fail-open rule.
import type { Policy, Pool, Region, RegionStatus, Service } from '../config/index.js';
import { distanceKm } from '../geo/distance.js';
import type { Location } from '../geo/index.js';
import { prefixMatch } from '../net/index.js';

export interface Client {
  /** Address bytes (4 or 16) that the decision is made from (ECS subnet or resolver). */
  address: Uint8Array;
  family: 4 | 6;
  location?: Location;
  /** Database network length containing the address. */
  geoPrefix: number;
}

export interface PolicyContext {
  regions: Map<string, Region>;
  weightOf(region: string): number;
  random(): number;
}

export interface Ordering {
  candidates: string[];
  /** Human-readable rule that decided (for `gtm explain` and logs). */
  rule: string;
  /** Bits of the client address the ordering depends on; 0 = same for every client. */
  scope: number;
}

export function order(policy: Policy, pools: string[], client: Client | undefined, ctx: PolicyContext): Ordering {
  switch (policy.kind) {
    case 'static':
      return { candidates: policy.regions, rule: `static ${policy.regions.join(',')}`, scope: 0 };
    case 'all-healthy':
      return { candidates: policy.regions ?? pools, rule: 'all healthy regions', scope: 0 };
    case 'weighted':
      return weighted(policy.regions ?? pools, ctx);
    case 'nearest':
      return nearest(policy.regions ?? pools, client, ctx);
    case 'geo':
      return geo(policy, client);
    case 'latency':
      return latency(policy, policy.regions ?? pools, client, ctx);
    case 'failover': {
      const seen = new Set<string>();
      const candidates: string[] = [];
      const rules: string[] = [];
      let scope = 0;
      for (const tier of policy.tiers) {
        const o = order(tier, pools, client, ctx);
        rules.push(o.rule);
        scope = Math.max(scope, o.scope);
        for (const r of o.candidates) if (!seen.has(r)) (seen.add(r), candidates.push(r));
      }
      return { candidates, rule: `failover [${rules.join(' > ')}]`, scope };
    }
  }
}

function weighted(regions: string[], ctx: PolicyContext): Ordering {
  // Weighted sampling without replacement: the first healthy candidate is then drawn with
  // probability proportional to its weight among the healthy ones. Weight 0 goes last.
  const pool = regions.map((r) => ({ r, w: Math.max(0, ctx.weightOf(r)) }));
  const out: string[] = [];
  const zero = pool.filter((x) => x.w === 0).map((x) => x.r);
  let live = pool.filter((x) => x.w > 0);
  while (live.length) {
    let total = 0;
    for (const x of live) total += x.w;
    let pick = ctx.random() * total;
    let i = 0;
    for (; i < live.length - 1; i++) {
      pick -= (live[i] as { w: number }).w;
      if (pick < 0) break;
    }
    out.push((live[i] as { r: string }).r);
    live = live.filter((_, j) => j !== i);
  }
  return { candidates: [...out, ...zero], rule: `weighted ${pool.map((x) => `${x.r}=${x.w}`).join(' ')}`, scope: 0 };
}

function nearest(regions: string[], client: Client | undefined, ctx: PolicyContext): Ordering {
  const loc = client?.location;
  if (!loc || loc.lat === undefined || loc.lon === undefined) {
    return { candidates: regions, rule: 'nearest: client location unknown, configured order', scope: client ? client.geoPrefix : 0 };
  }
  const { lat, lon } = loc;
  const withDist = regions.map((r) => {
    const reg = ctx.regions.get(r) as Region;
    return { r, d: distanceKm(lat, lon, reg.lat, reg.lon) };
  });
  withDist.sort((a, b) => a.d - b.d);
  const where = loc.coarse ? `country ${loc.country}` : `${lat.toFixed(2)},${lon.toFixed(2)}`;
  return {
    candidates: withDist.map((x) => x.r),
    rule: `nearest to ${where}: ${withDist.map((x) => `${x.r} ${Math.round(x.d)} km`).join(', ')}`,
    scope: (client as Client).geoPrefix,
  };
}

// A mapped list is the whole candidate list: operators list fallbacks explicitly.
function geo(policy: Extract<Policy, { kind: 'geo' }>, client: Client | undefined): Ordering {
  const loc = client?.location;
  const scope = client ? client.geoPrefix : 0;
  const tryKey = (table: Map<string, string[]>, key: string | undefined, what: string): Ordering | undefined => {
    const hit = key === undefined ? undefined : table.get(key);
    return hit ? { candidates: hit, rule: `geo ${what} ${key}`, scope } : undefined;
  };
  return (
    tryKey(policy.subdivisions, loc?.subdivision, 'subdivision') ??
    tryKey(policy.countries, loc?.country, 'country') ??
    tryKey(policy.continents, loc?.continent, 'continent') ?? {
      candidates: policy.default,
      rule: `geo default (${loc?.country ? `no rule for ${loc.country}` : 'location unknown'})`,
      scope,
    }
  );
}

function latency(policy: Extract<Policy, { kind: 'latency' }>, regions: string[], client: Client | undefined, ctx: PolicyContext): Ordering {
  if (client) {
    for (const net of policy.networks) {
      if (net.family === client.family && prefixMatch(client.address, net.bytes, net.prefix)) {
        return { ...byRtt(net.rtt, regions), rule: `latency table ${net.cidr}: ${fmtRtt(net.rtt)}`, scope: net.prefix };
      }
    }
    const cc = client.location?.country;
    const row = cc ? policy.countries.get(cc) : undefined;
    if (row) return { ...byRtt(row, regions), rule: `latency table country ${cc}: ${fmtRtt(row)}`, scope: client.geoPrefix };
  }
  const fallback = nearest(regions, client, ctx);
  return { ...fallback, rule: `latency: no measurement for client, ${fallback.rule}` };
}

function byRtt(rtt: Map<string, number>, regions: string[]): { candidates: string[] } {
  const measured = regions.filter((r) => rtt.has(r)).sort((a, b) => (rtt.get(a) as number) - (rtt.get(b) as number));
  return { candidates: [...measured, ...regions.filter((r) => !rtt.has(r))] };
}

function fmtRtt(rtt: Map<string, number>): string {
  return [...rtt].map(([r, ms]) => `${r} ${ms} ms`).join(', ');
}

export interface Selection {
  pools: Pool[];
  /** Health of each candidate, in candidate order (for explain). */
  health: { region: string; status: RegionStatus }[];
  failOpen: 'none' | 'last-resort' | 'all-candidates';
}

/**
 * Filters candidates by health and takes `answers` of them (0 = all healthy). If no
 * candidate is up the answer fails open: to the service's last resort, else to every
 * candidate. It is never empty while some pool has an address of the asked family.
 */
export function select(service: Service, candidates: string[], family: 4 | 6, statusOf: (region: string) => RegionStatus): Selection {
  const usable = (r: string): Pool | undefined => {
    const p = service.pools.find((x) => x.region === r);
    return p && (family === 4 ? p.vip4 : p.vip6) ? p : undefined;
  };
  const health = candidates.map((region) => ({ region, status: statusOf(region) }));
  const up = health.filter((h) => h.status === 'up').map((h) => usable(h.region)).filter((p): p is Pool => p !== undefined);
  const take = (list: Pool[]) => (service.answers === 0 ? list : list.slice(0, service.answers));
  if (up.length) return { pools: take(up), health, failOpen: 'none' };
  const resort = service.lastResort.map(usable).filter((p): p is Pool => p !== undefined);
  if (resort.length) return { pools: take(resort), health, failOpen: 'last-resort' };
  const all = candidates.map(usable).filter((p): p is Pool => p !== undefined);
  return { pools: take(all), health, failOpen: 'all-candidates' };
}
