// Fencing by network and AS through the real server, read by kdig: a London subnet pinned to
// Singapore is answered Singapore, with the ECS scope of the fenced network; a New York subnet
// whose AS (from an IP-to-AS file of the ip-location-db form) excludes us-east is answered Dublin;
// an unfenced client is answered as the policy says. `gtm explain` names the rule and the AS.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gtmExplain, kdig, runGtm, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';

let config: string;
let gtm: RunningDns | undefined;
const ask = (subnet: string, short = true) =>
  kdig((gtm as RunningDns).port, [
    ...(short ? ['+short'] : []),
    '+norec',
    `+subnet=${subnet}`,
    'www.example.test',
    'A',
  ]);

beforeAll(async () => {
  const dir = tempDir('gtm-fence-');
  config = testConfig(dir);
  const asn = join(dir, 'asn.csv');
  writeFileSync(asn, '198.18.3.0,198.18.3.255,64500,"New York Example, Inc."\n198.18.4.0,198.18.4.255,64501,Other\n');
  const fence = [
    '    fence:',
    '      - networks: [198.18.1.0/24]',
    '        pin: [ap-southeast]',
    '      - asn: [AS64500]',
    '        exclude: [us-east]',
    '',
  ].join('\n');
  let text = readFileSync(config, 'utf8').replace('    policy: nearest\n', `    policy: nearest\n${fence}`);
  text = text.replace(/^geo:\n/m, `geo:\n  asn_database: ${asn}\n`);
  writeFileSync(config, text);
  gtm = await startDns(config, 2);
}, 30_000);

afterAll(async () => {
  await gtm?.stop();
});

describe('fencing by network and AS', () => {
  it('pins a fenced network, with the scope of that network', async () => {
    expect((await ask('198.18.1.0/24')).trim()).toBe('198.51.100.30'); // London: Singapore, not Dublin
    expect(await ask('198.18.1.0/24', false)).toMatch(/CLIENT-SUBNET: 198\.18\.1\.0\/24\/24/);
  });

  it("keeps a fenced AS's users out of the excluded region", async () => {
    expect((await ask('198.18.3.0/24')).trim()).toBe('198.51.100.20'); // New York: Dublin, not New York
  });

  it('answers unfenced clients as the policy says', async () => {
    expect((await ask('198.18.2.0/24')).trim()).toBe('198.51.100.10'); // San Francisco: New York
    expect((await ask('198.18.4.0/24')).trim()).toBe('198.51.100.30'); // Singapore, another AS
  });

  it('explains the rule that matched and the AS it matched by', async () => {
    const byAs = await gtmExplain(config, ['--client', '198.18.3.1', 'www.example.test', 'A']);
    expect(byAs.stdout).toMatch(
      /^fence: rule 2 matches by its AS64500 \(New York Example, Inc\.\): excludes us-east$/m,
    );
    expect(byAs.stdout).toMatch(/^rule: nearest .*; fence rule 2: excluding us-east$/m);
    expect(byAs.stdout).toMatch(/^chosen: eu-west$/m);
    const byNet = await gtmExplain(config, ['--client', '198.18.1.7', 'www.example.test', 'A']);
    expect(byNet.stdout).toMatch(/^fence: rule 1 matches by its network 198\.18\.1\.0\/24: pins ap-southeast$/m);
    const none = await gtmExplain(config, ['--client', '198.18.2.1', 'www.example.test', 'A']);
    expect(none.stdout).toMatch(
      /^fence: no rule matches 198\.18\.2\.1 \(AS unknown\); the answer holds for its \/\d+$/m,
    );
  });
});

describe('gtm geo status', () => {
  it('lists the AS data a fence reads, beside the location data', async () => {
    const { stdout, code } = await runGtm(['geo', 'status', '--config', config]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^asn data: \/.*asn\.csv, 2 ranges \(for fence rules by AS\)$/m);
    expect(stdout).toMatch(/^subdivision codes: /m);
  });
});
