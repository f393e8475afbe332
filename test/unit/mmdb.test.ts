// The MMDB files the project writes are read by libmaxminddb (Debian mmdb-bin's mmdblookup),
// the strict reference reader gdnsd and most tools use, not only by the lenient npm reader.
import { describe, expect, it } from 'vitest';
import { buildTestDatabases } from '../../geodata/build-test-db.js';
import { run, tempDir } from '../helpers/dns.js';

describe('MMDB writer output', () => {
  const { city, country } = buildTestDatabases(tempDir('gtm-mmdb-'));

  it('mmdblookup reads the City database: metadata and a London network', async () => {
    const meta = await run('mmdblookup', ['--file', city, '--ip', '198.18.1.2', '--verbose']);
    expect(meta.stderr).not.toMatch(/invalid metadata/);
    expect(meta.code).toBe(0);
    expect(meta.stdout).toMatch(/Binary format:\s+2\.0/);
    expect(meta.stdout).toMatch(/Record size:\s+32 bits/);
    expect(meta.stdout).toMatch(/"GB"/);
  });

  it('mmdblookup reads the Country database, IPv4 and IPv6', async () => {
    for (const ip of ['198.18.1.2', '2001:db8:1::1']) {
      const r = await run('mmdblookup', ['--file', country, '--ip', ip, 'country', 'iso_code']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/"[A-Z]{2}" <utf8_string>/);
    }
  });
});
