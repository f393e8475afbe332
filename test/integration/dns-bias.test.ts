// Geoproximity bias through the real server, read by kdig: with `nearest: { bias: { eu-west: 60 } }`
// a San Francisco client (nearest New York) is answered Dublin, a New York client still New York;
// `gtm explain` says the biased and the plain distance.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gtmExplain, kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';

let config: string;
let gtm: RunningDns | undefined;
const a = async (subnet: string) =>
  (await kdig((gtm as RunningDns).port, ['+short', '+norec', `+subnet=${subnet}`, 'www.example.test', 'A'])).trim();

beforeAll(async () => {
  config = testConfig(tempDir('gtm-bias-'));
  writeFileSync(
    config,
    readFileSync(config, 'utf8').replace(
      '    policy: nearest\n',
      '    policy:\n      nearest: { bias: { eu-west: 60 } }\n',
    ),
  );
  gtm = await startDns(config, 2);
}, 30_000);

afterAll(async () => {
  await gtm?.stop();
});

describe('nearest with a bias', () => {
  it("grows the biased region's catchment, and explain shows both distances", async () => {
    expect(await a('198.18.2.0/24')).toBe('198.51.100.20'); // San Francisco: Dublin, not New York
    expect(await a('198.18.3.0/24')).toBe('198.51.100.10'); // New York stays
    const explained = await gtmExplain(config, ['--client', '198.18.2.1', 'www.example.test', 'A']);
    expect(explained.stdout).toMatch(
      /^rule: nearest to .*: eu-west \d+ km biased \(\d+ km, bias \+60\), us-east \d+ km/m,
    );
    expect(explained.stdout).toMatch(/^chosen: eu-west$/m);
  });
});
