// Builds the test databases: a GeoIP2-City-shaped and a GeoIP2-Country-shaped MMDB
// over TEST_NETWORKS. Usage: node dist/geodata/build-test-db.js OUTDIR
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Double, MmdbWriter } from './mmdb-writer.js';
import { TEST_NETWORKS } from './test-networks.js';

export function buildTestDatabases(dir: string): { city: string; country: string } {
  mkdirSync(dir, { recursive: true });
  const city = new MmdbWriter('GeoIP2-City', 'gtm test City database');
  const country = new MmdbWriter('GeoIP2-Country', 'gtm test Country database');
  for (const n of TEST_NETWORKS) {
    const base = { continent: { code: n.continent }, country: { iso_code: n.country } };
    country.insert(n.cidr, base);
    city.insert(n.cidr, {
      ...base,
      city: { names: { en: n.city } },
      location: { latitude: new Double(n.lat), longitude: new Double(n.lon), accuracy_radius: 20 },
      ...(n.subdivision ? { subdivisions: [{ iso_code: n.subdivision }] } : {}),
    });
  }
  const paths = { city: join(dir, 'test-city.mmdb'), country: join(dir, 'test-country.mmdb') };
  writeFileSync(paths.city, city.toBuffer());
  writeFileSync(paths.country, country.toBuffer());
  return paths;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = buildTestDatabases(process.argv[2] ?? 'geodata/test');
  console.log(`wrote ${out.city} and ${out.country}`);
}

/** A config's text with its `geo:` section replaced by one naming `database` (the example config's holds only comments). */
export function withGeoDatabase(configText: string, database: string): string {
  const out = configText.replace(/^geo:\n(?:[ \t]+#.*\n)*/m, `geo:\n  database: ${database}\n`);
  if (out === configText) throw new Error('the config has no geo: section of comments to replace');
  return out;
}
