// Response rate limiting as a pure decision: budgets per network and kind of response, slip,
// debt, exemptions, a bounded table and one log line per network per minute.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText, ConfigError } from '../../src/config/index.js';
import { kindOf, networkOf, ResponseRateLimiter, RRL_LOG_PERIOD_MS, truncatedOf } from '../../src/dns/rrl.js';
import { parseCidr } from '../../src/net/index.js';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import type { RrlSettings } from '../../src/config/index.js';
import { tempDir, testConfig } from '../helpers/dns.js';
import { LogTally } from '../../src/runtime/index.js';

const settings = (over: Partial<RrlSettings> = {}): RrlSettings => ({
  perSecond: { answer: 5, nodata: 5, nxdomain: 2, referral: 5, error: 5 },
  windowS: 15,
  slip: 2,
  ipv4Prefix: 24,
  ipv6Prefix: 56,
  exempt: [],
  tableSize: 1000,
  ...over,
});

const count = (verdicts: string[]) => ({
  send: verdicts.filter((v) => v === 'send').length,
  slip: verdicts.filter((v) => v === 'slip').length,
  drop: verdicts.filter((v) => v === 'drop').length,
});

describe('response rate limiting', () => {
  it('charges a /24 (or /56) for its answers: the rate, then every second one slipped, the rest dropped', () => {
    const rrl = new ResponseRateLimiter(settings());
    const v = Array.from({ length: 100 }, (_, i) => rrl.check(`192.0.2.${i % 250}`, 'answer', 'www/1', 1000));
    expect(count(v)).toEqual({ send: 5, slip: 47, drop: 48 });
    // Another network has its own budget; so does another question from the same network.
    expect(rrl.check('192.0.3.1', 'answer', 'www/1', 1000)).toBe('send');
    expect(rrl.check('192.0.2.1', 'answer', 'mail/1', 1000)).toBe('send');
    // IPv6 by /56: the same /56 shares, the next /56 does not.
    const six = new ResponseRateLimiter(settings({ slip: 0 }));
    const v6 = Array.from({ length: 10 }, (_, i) => six.check(`2001:db8:0:${i}::1`, 'answer', 'www/28', 1000));
    expect(count(v6)).toEqual({ send: 5, slip: 0, drop: 5 });
    expect(six.check('2001:db8:0:100::1', 'answer', 'www/28', 1000)).toBe('send');
  });

  it('NXDOMAIN is charged across names (random names cannot dodge it), with its own rate', () => {
    const rrl = new ResponseRateLimiter(settings({ slip: 0 }));
    const v = Array.from({ length: 10 }, (_, i) => rrl.check('198.51.100.7', 'nxdomain', `r${i}/1`, 0));
    expect(count(v)).toEqual({ send: 2, slip: 0, drop: 8 });
    // Answers from the same network are a separate budget.
    expect(rrl.check('198.51.100.7', 'answer', 'www/1', 0)).toBe('send');
  });

  it('a flooding network runs into debt and must be quiet for the window to be answered again', () => {
    const rrl = new ResponseRateLimiter(settings({ slip: 0, windowS: 10 }));
    for (let i = 0; i < 1000; i++) rrl.check('203.0.113.9', 'answer', 'www/1', 0);
    // Debt is capped at 10 s of credit (50 responses): after 9 s still limited, after 11 s answered.
    expect(rrl.check('203.0.113.9', 'answer', 'www/1', 9000)).toBe('drop');
    const fresh = new ResponseRateLimiter(settings({ slip: 0, windowS: 10 }));
    for (let i = 0; i < 1000; i++) fresh.check('203.0.113.9', 'answer', 'www/1', 0);
    expect(fresh.check('203.0.113.9', 'answer', 'www/1', 11_000)).toBe('send');
    // A well-behaved client at the rate is never limited.
    const steady = new ResponseRateLimiter(settings());
    const v = Array.from({ length: 100 }, (_, i) => steady.check('192.0.2.1', 'answer', 'www/1', i * 200));
    expect(count(v).send).toBe(100);
  });

  it('exempt networks and kinds with rate 0 are never limited; the table is bounded', () => {
    const exempt = [parseCidr('192.0.2.0/25'), parseCidr('2001:db8::/32')].filter((c) => c !== undefined);
    const rrl = new ResponseRateLimiter(settings({ exempt, perSecond: { ...settings().perSecond, error: 0 } }));
    for (let i = 0; i < 50; i++) {
      expect(rrl.check('192.0.2.5', 'answer', 'www/1', 0)).toBe('send');
      expect(rrl.check('::ffff:192.0.2.6', 'answer', 'www/1', 0)).toBe('send');
      expect(rrl.check('2001:db8::1', 'answer', 'www/1', 0)).toBe('send');
      expect(rrl.check('198.51.100.1', 'error', 'x/1', 0)).toBe('send');
    }
    expect(rrl.check('192.0.2.200', 'answer', 'www/1', 0)).toBe('send'); // same /24, not exempt: own budget
    const small = new ResponseRateLimiter(settings({ tableSize: 100 }));
    for (let i = 0; i < 10_000; i++) small.check(`10.${i >> 8}.${i & 255}.1`, 'answer', 'www/1', 0);
    expect((small as unknown as { networks: Map<string, unknown> }).networks.size).toBeLessThanOrEqual(100);
  });

  it('logs each offending network at most once a minute, with how many were limited', () => {
    const rrl = new ResponseRateLimiter(settings({ slip: 0 }));
    for (let i = 0; i < 30; i++) rrl.check('192.0.2.1', 'answer', 'www/1', 0);
    expect(rrl.dueLogs(0)).toEqual([{ network: '192.0.2.0/24', limited: 25 }]);
    for (let i = 0; i < 30; i++) rrl.check('192.0.2.1', 'answer', 'www/1', 1000);
    expect(rrl.dueLogs(1000)).toEqual([]); // within the minute
    expect(rrl.dueLogs(RRL_LOG_PERIOD_MS)).toEqual([{ network: '192.0.2.0/24', limited: 30 }]);
    expect(rrl.dueLogs(3 * RRL_LOG_PERIOD_MS)).toEqual([]); // quiet: forgotten
  });

  it('networks, kinds and the truncated copy are read from the wire', () => {
    expect(networkOf('192.0.2.77', 24, 56)).toBe('192.0.2.0/24');
    expect(networkOf('::ffff:192.0.2.77', 16, 56)).toBe('192.0.0.0/16');
    expect(networkOf('2001:db8:aa:bbcc::1', 24, 56)).toBe('20010db800aabb000000000000000000/56');
    const header = (flags: number, an: number) => {
      const b = Buffer.alloc(12);
      b.writeUInt16BE(flags, 2);
      b.writeUInt16BE(an, 6);
      return b;
    };
    expect(kindOf(header(0x8400, 1))).toBe('answer');
    expect(kindOf(header(0x8400, 0))).toBe('nodata');
    expect(kindOf(header(0x8000, 0))).toBe('referral');
    expect(kindOf(header(0x8403, 0))).toBe('nxdomain');
    expect(kindOf(header(0x8402, 0))).toBe('error');
    const q = buildQuery('www.example.test', TYPE.TXT, { id: 77, edns: { udpSize: 1232 } });
    const response = Buffer.concat([q, Buffer.alloc(40)]);
    response.writeUInt16BE(0x8400, 2);
    response.writeUInt16BE(3, 6);
    const tc = truncatedOf(response) as Buffer;
    expect(tc.length).toBe(12 + 'www.example.test'.length + 2 + 4);
    expect(tc.readUInt16BE(0)).toBe(77);
    expect(tc.readUInt16BE(2) & 0x0200).toBe(0x0200);
    expect([tc.readUInt16BE(6), tc.readUInt16BE(8), tc.readUInt16BE(10)]).toEqual([0, 0, 0]);
    expect(truncatedOf(Buffer.from([0, 1, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 200]))).toBeUndefined();
  });

  it('dns.rrl in the config: BIND names and defaults, every mistake named', () => {
    const text = readFileSync(testConfig(tempDir()), 'utf8');
    const base = (rrl: string) => text.replace(/^dns:\n/m, `dns:\n  rrl:\n${rrl}\n`);
    const c = parseConfigText(
      base('    responses_per_second: 7\n    nxdomains_per_second: 3\n    exempt: [10.0.0.0/8]'),
    );
    expect(c.dns.rrl?.perSecond).toEqual({ answer: 7, nodata: 7, nxdomain: 3, referral: 7, error: 7 });
    expect(c.dns.rrl).toMatchObject({ windowS: 15, slip: 2, ipv4Prefix: 24, ipv6Prefix: 56, tableSize: 100_000 });
    expect(c.dns.missBudget).toBe(2);
    expect(c.dns.overBudget).toBe('truncate');
    let err: unknown;
    try {
      parseConfigText(base('    slip: 11\n    exempt: [nonsense]\n    ipv4_prefix: 33\n    burst: 4'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = String((err as Error).message);
    for (const p of ['dns.rrl.slip', 'dns.rrl.exempt[0]', 'dns.rrl.ipv4_prefix', 'burst']) expect(msg).toContain(p);
  });
});

describe('a log tally (refused NOTIFYs and the like)', () => {
  it('writes the first event at once, then one line per key per period with the count it stands for', () => {
    const t = new LogTally(60_000, 100);
    expect(t.count('a', 0)).toBe(1);
    expect(t.count('a', 1_000)).toBeUndefined();
    expect(t.count('b', 1_000)).toBe(1); // another sender has its own line
    expect(t.count('a', 30_000)).toBeUndefined();
    expect(t.count('a', 60_000)).toBe(3); // this one and the two unlogged before it
    expect(t.count('a', 60_001)).toBeUndefined();
  });

  it('stays bounded by keys', () => {
    const t = new LogTally(60_000, 10);
    for (let i = 0; i < 1000; i++) expect(t.count(`k${i}`, 0)).toBe(1);
    expect(t.count('k999', 1)).toBeUndefined();
  });
});
