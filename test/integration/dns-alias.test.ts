// Alias pools (a CNAME to another provider's name) and a last-resort alias, through the real
// server read by kdig: the region whose pool is an alias is answered as a CNAME for A, AAAA and
// HTTPS alike, the others with their addresses; with every address region down the last-resort
// alias answers instead of failing open; `gtm explain` names the alias.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gtmExplain, kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';

let config: string;
let gtm: RunningDns | undefined;
const ask = async (name: string, type: string, subnet = '198.18.1.0/24') =>
  (await kdig((gtm as RunningDns).port, ['+short', '+norec', `+subnet=${subnet}`, name, type])).trim();

beforeAll(async () => {
  config = testConfig(tempDir('gtm-alias-'));
  let text = readFileSync(config, 'utf8');
  text = text.replace(
    /^regions:\n/m,
    'regions:\n  gone: { vip: 192.0.2.99, location: { lat: 0, lon: 0 }, state: down }\n  cdn: { location: { lat: 0, lon: 0 } }\n',
  );
  text = text.replace(
    '    pools: [us-east, eu-west, ap-southeast]\n',
    '    pools: [us-east, eu-west, { region: ap-southeast, cname: shop.cdn.example.net }]\n',
  );
  text += [
    '  fallback:',
    '    name: fallback.example.test',
    '    pools: [gone, { region: cdn, cname: static.cdn.example.net }]',
    '    policy: gone',
    '    last_resort: [cdn]',
    '    transfer_as: last_resort',
    '',
  ].join('\n');
  writeFileSync(config, text);
  gtm = await startDns(config, 2);
}, 30_000);

afterAll(async () => {
  await gtm?.stop();
});

describe('alias pools', () => {
  it("answers a CNAME where the chosen region's pool is an alias, addresses elsewhere", async () => {
    expect(await ask('www.example.test', 'A', '198.18.4.0/24')).toBe('shop.cdn.example.net.'); // Singapore
    expect(await ask('www.example.test', 'AAAA', '198.18.4.0/24')).toBe('shop.cdn.example.net.');
    expect(await ask('www.example.test', 'A', '198.18.1.0/24')).toBe('198.51.100.20'); // London: Dublin
  });

  it('answers the last-resort alias when every address region is down', async () => {
    expect(await ask('fallback.example.test', 'A')).toBe('static.cdn.example.net.');
    expect(await ask('fallback.example.test', 'AAAA')).toBe('static.cdn.example.net.');
  });

  it('explains the alias', async () => {
    const out = await gtmExplain(config, ['--client', '198.18.4.1', 'www.example.test', 'A']);
    expect(out.stdout).toMatch(/^chosen: ap-southeast \(alias: CNAME shop\.cdn\.example\.net\)$/m);
    expect(out.stdout).toMatch(/^answer: www\.example\.test 30 CNAME shop\.cdn\.example\.net$/m);
    const fb = await gtmExplain(config, ['--client', '198.18.4.1', 'fallback.example.test', 'A']);
    expect(fb.stdout).toMatch(/^fail-open: no candidate is up; answering the last resort$/m);
  });
});
