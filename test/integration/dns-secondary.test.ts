// `gtm dns` as a secondary (`zones.<name>.primary`) of Knot DNS as hidden primary: it takes the
// zone by AXFR at start (TSIG-signed), lays its steered name on top, takes a change made on the
// primary by IXFR when the primary's NOTIFY arrives, serves its copy from disk after a restart
// with the primary down, and answers SERVFAIL once the SOA expire has passed without a primary.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig, freePort, kdig, run, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import {
  gtmZoneExport,
  knotPrimaryConf,
  recordLines,
  startServer,
  type RunningServer,
} from '../helpers/secondaries.js';
import { waitFor } from '../helpers/wait.js';

const KEY = 'adopt-key';
const SECRET = Buffer.from('the adopted zone secret, 32 byte').toString('base64');
process.env.GTM_TEST_ADOPT_TSIG = SECRET;
/** SOA timers: refresh an hour (NOTIFY drives the change), retry 1 s, expire 20 s (the expiry test). */
const EXPIRE_S = 20;
const ZONE = `$ORIGIN adopt.test.
$TTL 300
@ 3600 IN SOA ns1.adopt.test. hostmaster.adopt.test. 2026120301 3600 1 ${EXPIRE_S} 60
@ NS ns1
@ NS ns2.example.net.
ns1 A 192.0.2.53
www A 192.0.2.1
txt TXT "hello world" "a second string"
@ MX 10 mail
mail A 192.0.2.25
_sip._tcp SRV 10 20 5060 sip
sip AAAA 2001:db8::5
@ CAA 0 issue "ca.example"
_svc HTTPS 1 . alpn=h2 port=8443
sub NS ns.sub
ns.sub A 192.0.2.77
sub DS 12345 13 2 ${'ab'.repeat(32)}
`;

let dir: string;
let config: string;
let gtm: RunningDns | undefined;
let knot: RunningServer | undefined;
let knotPort: number;
const knotc = (...args: string[]) => run('knotc', ['-s', join(dir, 'knot', 'knot.sock'), ...args]);
const answer = async (port: number, name: string, type: string) =>
  recordLines(await kdig(port, ['+norec', '+noall', '+answer', name, type])).map((l) =>
    l.split(' ').slice(3).join(' '),
  );
const status = async (port: number, name: string) => /status: (\w+)/.exec(await kdig(port, ['+norec', name, 'A']))?.[1];
const axfr = async (port: number, keyed: boolean) =>
  recordLines(
    await kdig(port, [
      ...(keyed ? ['-y', `hmac-sha256:${KEY}:${SECRET}`] : []),
      '+noall',
      '+answer',
      'adopt.test',
      'AXFR',
    ]),
  )
    .filter((l) => !/ (RRSIG|NSEC|DNSKEY|TSIG) /.test(l))
    .sort();
/** A transfer's lines but the steered name's (gtm lays its service there). */
const unsteered = (lines: string[]) => lines.filter((l) => !l.startsWith('www.adopt.test.'));

beforeAll(async () => {
  dir = tempDir('gtm-secondary-');
  config = testConfig(dir);
  knotPort = await freePort();
  const gtmPort = await freePort();
  writeFileSync(
    config,
    readFileSync(config, 'utf8')
      .replace(
        /^dns:\n/m,
        `dns:\n  tsig_keys: [{ name: ${KEY}, secret_env: GTM_TEST_ADOPT_TSIG }]\n  secondary_dir: ${join(dir, 'kept')}\n`,
      )
      .replace(
        /^zones:\n/m,
        `zones:\n  adopt.test:\n    primary: ['127.0.0.1:${knotPort}']\n    primary_tsig: ${KEY}\n    transfer: { allow: [127.0.0.1] }\n`,
      )
      .replace(
        /^services:\n/m,
        'services:\n  adopt-www:\n    name: www.adopt.test\n    pools: [us-east, eu-west, ap-southeast]\n',
      ),
  );
  const home = join(dir, 'knot');
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'adopt.test.zone'), ZONE);
  const conf = knotPrimaryConf({
    port: knotPort,
    home,
    gtmPort,
    key: { name: KEY, secret: SECRET },
    zone: 'adopt.test',
  });
  knot = await startServer('knot', 'knot-primary', knotPort, home, conf, ['adopt.test']);
  gtm = await startDns(config, 2, undefined, gtmPort);
}, 60_000);

afterAll(async () => {
  await gtm?.stop();
  await knot?.stop();
});

describe('gtm dns as a secondary of Knot (hidden primary)', () => {
  it('takes the zone by signed AXFR at start and serves it record for record, its steered name on top', async () => {
    const g = gtm as RunningDns;
    await g.waitLog(/zone adopt\.test from 127\.0\.0\.1:\d+: AXFR: serial 2026120301/, 15_000);
    const fromKnot = await axfr(knotPort, true);
    const fromGtm = await axfr(g.port, false);
    expect(fromKnot.length).toBeGreaterThan(10);
    // The steered name: Knot's one address gives way to the service (every pool, as transferred on).
    const knotWww = fromKnot.filter((l) => l.startsWith('www.adopt.test.'));
    expect(knotWww).toEqual(['www.adopt.test. 300 IN A 192.0.2.1']);
    const gtmWww = fromGtm.filter((l) => l.startsWith('www.adopt.test.'));
    expect(gtmWww.map((l) => l.split(' ').at(-1)).sort()).toEqual(
      [
        '198.51.100.10',
        '198.51.100.20',
        '198.51.100.30',
        '2001:db8:10::10',
        '2001:db8:20::20',
        '2001:db8:30::30',
      ].sort(),
    );
    expect(unsteered(fromGtm)).toEqual(unsteered(fromKnot));
    // Queries: data, the HTTPS record passed through as it came, and the steered name's policy.
    expect(await answer(g.port, 'txt.adopt.test', 'TXT')).toEqual(['TXT "hello world" "a second string"']);
    expect(await answer(g.port, '_svc.adopt.test', 'HTTPS')).toEqual(['HTTPS 1 . alpn=h2 port=8443']);
    const www = await answer(g.port, 'www.adopt.test', 'A');
    expect(www).toHaveLength(1);
    expect(www[0]).toMatch(/^A 198\.51\.100\.(10|20|30)$/);
  });

  it('refuses a NOTIFY that is not signed with the zone key; accepts a signed one', async () => {
    const g = gtm as RunningDns;
    const unsigned = await dig(g.port, ['+opcode=notify', '+norec', 'adopt.test', 'SOA']);
    expect(unsigned).toMatch(/status: REFUSED/);
    await g.waitLog(/"outcome":"not signed[^"]*","msg":"NOTIFY received"/);
    const signed = await dig(g.port, [
      '-y',
      `hmac-sha256:${KEY}:${SECRET}`,
      '+opcode=notify',
      '+norec',
      'adopt.test',
      'SOA',
    ]);
    expect(signed).toMatch(/status: NOERROR/);
    expect(signed).toMatch(/flags: qr aa/);
    const wrong = await dig(g.port, [
      '-y',
      `hmac-sha256:${KEY}:${Buffer.from('x'.repeat(32)).toString('base64')}`,
      '+opcode=notify',
      'adopt.test',
      'SOA',
    ]);
    expect(wrong).toMatch(/status: NOTAUTH|BADSIG|tsig verify failure/i);
    expect(g.log()).not.toContain(SECRET);
    // Anyone can send NOTIFYs: a burst of refused ones costs one log line a minute per sender
    // and worker (two here), not a line each.
    for (let i = 0; i < 10; i++) await dig(g.port, ['+opcode=notify', '+norec', 'adopt.test', 'SOA']);
    const refusedLines = g.log().match(/"outcome":"(not signed|TSIG)[^"]*"[^\n]*"msg":"NOTIFY received"/g) ?? [];
    expect(refusedLines.length).toBeGreaterThanOrEqual(1);
    expect(refusedLines.length).toBeLessThanOrEqual(2);
  });

  it('takes a change on the primary by IXFR when its NOTIFY arrives, within seconds', async () => {
    const g = gtm as RunningDns;
    for (const step of [
      ['zone-begin', 'adopt.test'],
      ['zone-set', 'adopt.test', 'new', '300', 'A', '192.0.2.99'],
      ['zone-unset', 'adopt.test', 'txt', 'TXT'],
      ['zone-commit', 'adopt.test'],
    ]) {
      const r = await knotc(...step);
      expect(r.code, `knotc ${step.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0);
    }
    const t0 = Date.now();
    await waitFor(
      async () => (await answer(g.port, 'new.adopt.test', 'A')).join() === 'A 192.0.2.99',
      'the change at gtm',
      10_000,
    );
    console.log(`change on the primary served by gtm after ${Date.now() - t0} ms`);
    expect(await status(g.port, 'txt.adopt.test')).toBe('NXDOMAIN');
    expect(g.log()).toMatch(/IXFR \(1 change\(s\)\): serial 2026120302, \d+ records \(NOTIFY from 127\.0\.0\.1\)/);
    // `gtm zone export` writes the kept copy, the steered name as a secondary of ours would serve it.
    const exported = await gtmZoneExport(config, 'adopt.test');
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/^new\.adopt\.test\.\t300\tIN\tA\t192\.0\.2\.99$/m);
    expect(exported.stdout).not.toMatch(/192\.0\.2\.1$/m);
    // Record for record the primary's zone again (but the steered name).
    expect(unsteered(await axfr(g.port, false))).toEqual(unsteered(await axfr(knotPort, true)));
  });

  it('restarted with the primary down, serves its kept copy at once; past expire, SERVFAIL', async () => {
    await knot?.stop();
    knot = undefined;
    await gtm?.stop();
    gtm = await startDns(config, 2);
    const g = gtm;
    expect(await answer(g.port, 'new.adopt.test', 'A')).toEqual(['A 192.0.2.99']);
    expect(g.log()).toMatch(/adopt\.test from \(disk\): copy read from/);
    await g.waitLog(/adopt\.test from 127\.0\.0\.1:\d+: failed/, 10_000);
    // The copy was last confirmed (the IXFR) a few seconds ago: it expires EXPIRE_S after that.
    await waitFor(
      async () => (await status(g.port, 'new.adopt.test')) === 'SERVFAIL',
      'the zone to expire',
      (EXPIRE_S + 10) * 1000,
    );
    expect(g.log()).toMatch(/expired: no primary answered for 20 s; answering SERVFAIL/);
    expect(await status(g.port, 'www.adopt.test')).toBe('SERVFAIL');
    // Other zones are not touched.
    expect(await status(g.port, 'static.example.test')).toBe('NOERROR');
  }, 60_000);
});
