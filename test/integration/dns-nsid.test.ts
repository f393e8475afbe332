// NSID (RFC 5001) as resolvers and operators ask for it: kdig +nsid and dig +nsid see the
// configured identifier; a query that does not ask gets none (memoised answers included).
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig, kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';

let dns: RunningDns;

beforeAll(async () => {
  const cfg = testConfig(tempDir());
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^dns:\n/m, 'dns:\n  nsid: gtm-ams-1\n'));
  dns = await startDns(cfg, 1);
});
afterAll(async () => {
  await dns?.stop();
});

describe('NSID', () => {
  it('answers the identifier to queries that ask, over UDP and TCP, and to no others', async () => {
    for (let i = 0; i < 2; i++) {
      // Twice: the second answers come from the memo, which must keep the two shapes apart.
      expect(await kdig(dns.port, ['+nsid', 'www.example.test', 'A'])).toMatch(/NSID: 67746d2d616d732d31 "gtm-ams-1"/i);
      expect(await kdig(dns.port, ['www.example.test', 'A'])).not.toMatch(/NSID/);
    }
    expect(await dig(dns.port, ['+nsid', '+tcp', 'static.example.test', 'A'])).toMatch(/; NSID: .*\("gtm-ams-1"\)/);
    // An error answer to a query with OPT carries it too (RFC 5001 §2.1: any response with OPT).
    expect(await kdig(dns.port, ['+nsid', 'example.org', 'A'])).toMatch(/status: REFUSED[\s\S]*NSID: .*"gtm-ams-1"/);
  });
});
