// Public entry of the geo capability: where is this client? Reads MaxMind GeoIP2 /
// GeoLite2 City or Country databases with the `maxmind` package, or the embedded default
// (a CC BY 4.0 country-level database from the npm registry), and fills in continent and
// coordinates from the embedded country table when the database has none.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reader } from 'maxmind';
import { packageRoot } from '../runtime/index.js';

export { distanceKm } from './distance.js';

export type { Location, GeoResult } from './types.js';
import type { GeoResult, Location } from './types.js';

export interface CountryInfo {
  continent: string;
  lat: number;
  lon: number;
}

const require = createRequire(import.meta.url);

export const EMBEDDED_DATABASE = 'embedded:geo-whois-asn-country';

export function embeddedDatabasePath(): string {
  return require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb');
}

let countryTable: Map<string, CountryInfo> | undefined;

export function countries(): Map<string, CountryInfo> {
  if (countryTable) return countryTable;
  const table = new Map<string, CountryInfo>();
  const text = readFileSync(join(packageRoot(), 'geodata', 'countries.csv'), 'utf8');
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#') || line.startsWith('code,')) continue;
    const [code, continent, lat, lon] = line.split(',');
    table.set(code as string, { continent: continent as string, lat: Number(lat), lon: Number(lon) });
  }
  countryTable = table;
  return table;
}

type Raw = Record<string, unknown> & {
  country?: { iso_code?: string };
  registered_country?: { iso_code?: string };
  country_code?: string;
  continent?: { code?: string };
  subdivisions?: { iso_code?: string }[];
  location?: { latitude?: number; longitude?: number };
};

/** Bounded cache for the maxmind decoder (its records are shared between networks). */
class BoundedCache<V> {
  private map = new Map<number, V>();
  constructor(private readonly max: number) {}
  get(k: number): V | undefined {
    return this.map.get(k);
  }
  set(k: number, v: V): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(k, v);
  }
}

export class GeoResolver {
  // The decoded records are plain objects; we read them through our own Raw shape,
  // which covers City, Country and the embedded database's `country_code` layout.
  private readonly reader: Reader<any>;
  /** Normalised locations keyed by the decoded record, which the decoder cache shares. */
  private readonly normalised = new WeakMap<object, Location>();
  readonly description: string;

  private constructor(
    buffer: Buffer,
    readonly path: string,
  ) {
    this.reader = new Reader<any>(buffer, { cache: new BoundedCache(20_000) });
    this.description = `${this.reader.metadata.databaseType} (${path})`;
  }

  /** Opens a database; no path (or the embedded marker) opens the embedded default. */
  static open(path?: string): GeoResolver {
    const file = !path || path === EMBEDDED_DATABASE ? embeddedDatabasePath() : path;
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (err) {
      throw new Error(`geo database ${file}: ${(err as Error).message}`);
    }
    try {
      return new GeoResolver(buf, file);
    } catch (err) {
      throw new Error(`geo database ${file} is not a MaxMind DB: ${(err as Error).message}`);
    }
  }

  lookup(ip: string): GeoResult {
    const [raw, prefixLen] = this.reader.getWithPrefixLength(ip) as [Raw | null, number];
    if (!raw) return { prefixLen };
    let loc = this.normalised.get(raw);
    if (!loc) {
      loc = normalise(raw);
      this.normalised.set(raw, loc);
    }
    return { location: loc, prefixLen };
  }
}

function normalise(raw: Raw): Location {
  const country = raw.country?.iso_code ?? raw.country_code ?? raw.registered_country?.iso_code;
  const info = country ? countries().get(country) : undefined;
  const sub = raw.subdivisions?.[0]?.iso_code;
  const lat = raw.location?.latitude;
  const lon = raw.location?.longitude;
  const precise = typeof lat === 'number' && typeof lon === 'number';
  return {
    country,
    continent: raw.continent?.code ?? info?.continent,
    subdivision: country && sub ? `${country}-${sub}` : undefined,
    lat: precise ? lat : info?.lat,
    lon: precise ? lon : info?.lon,
    coarse: !precise,
  };
}
