// Geo lookups against the test databases and the embedded default; explain output.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildTestDatabases } from '../../geodata/build-test-db.js';
import { parseConfigText } from '../../src/config/index.js';
import { InMemoryRegionState } from '../../src/state/index.js';
import { explain } from '../../src/dns/index.js';
import { EMBEDDED_DATABASE, GeoResolver, countries, distanceKm } from '../../src/geo/index.js';
import { EXAMPLE, gtmExplain, tempDir, testConfig } from '../helpers/dns.js';

describe('geo', () => {
  const dbs = buildTestDatabases(tempDir());

  it('reads City databases: country, continent, subdivision, coordinates, network length', () => {
    const geo = GeoResolver.open(dbs.city);
    expect(geo.lookup('198.18.2.9')).toEqual({
      prefixLen: 24,
      location: {
        country: 'US',
        continent: 'NA',
        subdivision: 'US-CA',
        city: 'San Francisco',
        lat: 37.77,
        lon: -122.42,
        coarse: false,
      },
    });
    expect(geo.lookup('198.18.17.1').prefixLen).toBe(21);
    expect(geo.lookup('2001:db8:4::1').location?.country).toBe('SG');
    expect(geo.lookup('10.9.9.9').location).toBeUndefined();
  });

  it('fills coordinates and continent from the country table for Country databases', () => {
    const geo = GeoResolver.open(dbs.country);
    expect(geo.lookup('198.18.5.1').location).toMatchObject({
      country: 'DE',
      continent: 'EU',
      lat: 52.52,
      lon: 13.4,
      coarse: true,
    });
  });

  it('works with the embedded country-level database (the fallback without the city data)', () => {
    const geo = GeoResolver.open(EMBEDDED_DATABASE);
    expect(geo.description).toMatch(/geo-whois-asn-country/);
    expect(geo.attribution).toBeUndefined();
    const r = geo.lookup('8.8.8.8');
    expect(r.location?.country).toMatch(/^[A-Z]{2}$/);
    expect(r.location?.lat).toBeTypeOf('number');
  });

  it('has a continent and coordinates for every country code', () => {
    const t = countries();
    expect(t.size).toBeGreaterThan(240);
    for (const [code, c] of t) {
      expect(code).toMatch(/^[A-Z]{2}$/);
      expect(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']).toContain(c.continent);
      expect(Math.abs(c.lat)).toBeLessThanOrEqual(90);
    }
  });

  it('refuses a file that is not a MaxMind DB with a clear error', () => {
    expect(() => GeoResolver.open(EXAMPLE)).toThrow(/is not a MaxMind DB/);
    expect(() => GeoResolver.open('/nonexistent.mmdb')).toThrow(/ENOENT/);
  });

  it('computes great-circle distances', () => {
    expect(Math.round(distanceKm(40.71, -74.01, 53.35, -6.26))).toBeGreaterThan(5050);
    expect(Math.round(distanceKm(40.71, -74.01, 53.35, -6.26))).toBeLessThan(5200);
  });
});

describe('explain', () => {
  it('shows location, candidates with health, the rule, TTL and ECS scope', () => {
    const dir = tempDir();
    const config = parseConfigText(readFileSync(testConfig(dir), 'utf8'));
    const geo = GeoResolver.open(config.geo.database);
    const state = InMemoryRegionState.fromConfig(config);
    state.set('eu-west', { status: 'down', reason: 'drill' });
    const out = explain(config, geo, state, {
      name: 'www.example.test',
      type: 'A',
      client: '127.0.0.1',
      ecs: '198.18.1.0/24',
    }).join('\n');
    expect(out).toMatch(
      /client \(from ecs\): city London, subdivision GB-ENG, country GB, continent EU, at 51.51,-0.13; database network 198\.18\.1\.0\/24/,
    );
    expect(out).toMatch(/rule: nearest to 51\.51,-0\.13: eu-west \d+ km, us-east \d+ km, ap-southeast \d+ km/);
    expect(out).toMatch(/1\. eu-west \[down, skipped\]\s+2\. us-east \[up\]/);
    expect(out).toMatch(/chosen: us-east/);
    expect(out).toMatch(/ttl 30/);
    expect(out).toMatch(/ecs scope: \/24/);
    expect(out).toMatch(/answer: www\.example\.test 30 A 198\.51\.100\.10/);
  });

  it('runs as gtm explain', async () => {
    const r = await gtmExplain(EXAMPLE, ['--client', '192.0.2.1', 'nope.example.test']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rcode: NXDOMAIN/);
    expect(r.stdout).toMatch(/authority: example\.test 60 SOA/);
  });
});
