// `geo`: subdivision (US-CA) > country (GB) > continent (EU) > default, each an ordered list.
// A mapped list is the whole candidate list: operators list fallbacks explicitly.
import { join, obj } from '../validate/index.js';
import { regionList } from './common.js';
import type { Ordering, PolicyPlugin } from './types.js';

export interface GeoPolicy {
  kind: 'geo';
  countries: Map<string, string[]>;
  continents: Map<string, string[]>;
  subdivisions: Map<string, string[]>;
  default: string[];
}

export const geo: PolicyPlugin<GeoPolicy> = {
  kind: 'geo',
  bareWord: false,
  parse({ p, pools }, path, body) {
    const b = obj(p, path, body ?? {}, ['countries', 'continents', 'subdivisions', 'default']) ?? {};
    const table = (key: string, keyPattern: RegExp, what: string): Map<string, string[]> => {
      const m = new Map<string, string[]>();
      if (b[key] === undefined) return m;
      const t = obj(p, join(path, key), b[key]);
      for (const [k, rv] of Object.entries(t ?? {})) {
        if (!keyPattern.test(k)) p.add(join(join(path, key), k), `not ${what}`);
        m.set(k.toUpperCase(), regionList(p, join(join(path, key), k), rv, pools) ?? []);
      }
      return m;
    };
    return {
      kind: 'geo',
      countries: table('countries', /^[A-Za-z]{2}$/, 'an ISO 3166-1 country code'),
      continents: table('continents', /^(AF|AN|AS|EU|NA|OC|SA)$/i, 'a continent code (AF AN AS EU NA OC SA)'),
      subdivisions: table(
        'subdivisions',
        /^[A-Za-z]{2}-[A-Za-z0-9]{1,3}$/,
        'an ISO 3166-2 subdivision code (e.g. US-CA)',
      ),
      default: regionList(p, join(path, 'default'), b.default, pools, true) ?? pools,
    };
  },
  order(policy, { client }) {
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
  },
  locationOnly: () => true,
};
