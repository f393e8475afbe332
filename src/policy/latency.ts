// `latency`: a table of measured RTTs, by client network (most specific wins) then country;
// lowest RTT first; a client with no row is ordered by `nearest`.
import { join, num, obj } from '../validate/index.js';
import { parseCidr, prefixMatch } from '../net/index.js';
import { regionList, regionRef } from './common.js';
import { nearestOrder } from './nearest.js';
import type { PolicyPlugin } from './types.js';

export interface LatencyNetwork {
  /** Network address bytes (4 or 16) and prefix length. */
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
  cidr: string;
  rtt: Map<string, number>;
}

export interface LatencyPolicy {
  kind: 'latency';
  networks: LatencyNetwork[];
  countries: Map<string, Map<string, number>>;
  regions?: string[];
}

function byRtt(rtt: Map<string, number>, regions: string[]): { candidates: string[] } {
  const measured = regions.filter((r) => rtt.has(r)).sort((a, b) => (rtt.get(a) as number) - (rtt.get(b) as number));
  return { candidates: [...measured, ...regions.filter((r) => !rtt.has(r))] };
}

const fmtRtt = (rtt: Map<string, number>) => [...rtt].map(([r, ms]) => `${r} ${ms} ms`).join(', ');

export const latency: PolicyPlugin<LatencyPolicy> = {
  kind: 'latency',
  bareWord: false,
  parse({ p, pools }, path, body) {
    const b = obj(p, path, body ?? {}, ['networks', 'countries', 'regions']) ?? {};
    const rtts = (rp: string, rv: unknown): Map<string, number> => {
      const m = new Map<string, number>();
      const o = obj(p, rp, rv);
      for (const [region, ms] of Object.entries(o ?? {})) {
        if (regionRef(p, join(rp, region), region, pools) === undefined) continue;
        const n = num(p, join(rp, region), ms, 0, 100_000);
        if (n !== undefined) m.set(region, n);
      }
      return m;
    };
    const networks: LatencyNetwork[] = [];
    const nets = b.networks === undefined ? {} : obj(p, join(path, 'networks'), b.networks);
    for (const [cidr, rv] of Object.entries(nets ?? {})) {
      const np = join(join(path, 'networks'), cidr);
      const parsed = parseCidr(cidr);
      if (!parsed) {
        p.add(np, 'not a CIDR network (e.g. 192.0.2.0/24)');
        continue;
      }
      networks.push({ ...parsed, cidr, rtt: rtts(np, rv) });
    }
    // Longest prefix first so the first match is the most specific.
    networks.sort((a, b2) => b2.prefix - a.prefix);
    const countries = new Map<string, Map<string, number>>();
    const cs = b.countries === undefined ? {} : obj(p, join(path, 'countries'), b.countries);
    for (const [cc, rv] of Object.entries(cs ?? {})) {
      if (!/^[A-Za-z]{2}$/.test(cc)) p.add(join(join(path, 'countries'), cc), 'not an ISO 3166-1 country code');
      countries.set(cc.toUpperCase(), rtts(join(join(path, 'countries'), cc), rv));
    }
    return {
      kind: 'latency',
      networks,
      countries,
      regions: regionList(p, join(path, 'regions'), b.regions, pools, true),
    };
  },
  order(policy, { pools, client, ctx }) {
    const regions = policy.regions ?? pools;
    if (client) {
      for (const net of policy.networks) {
        if (net.family === client.family && prefixMatch(client.address, net.bytes, net.prefix)) {
          return {
            ...byRtt(net.rtt, regions),
            rule: `latency table ${net.cidr}: ${fmtRtt(net.rtt)}`,
            scope: net.prefix,
          };
        }
      }
      const cc = client.location?.country;
      const row = cc ? policy.countries.get(cc) : undefined;
      if (row)
        return { ...byRtt(row, regions), rule: `latency table country ${cc}: ${fmtRtt(row)}`, scope: client.geoPrefix };
    }
    const fallback = nearestOrder(regions, client, ctx);
    return {
      candidates: fallback.candidates,
      complete: fallback.complete,
      get rule() {
        return `latency: no measurement for client, ${fallback.rule}`;
      },
      scope: fallback.scope,
    };
  },
  // The table is keyed by address as well as location.
  locationOnly: () => false,
};
