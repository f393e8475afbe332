// Outgoing zone transfers with real secondaries: NSD and Knot DNS each AXFR two zones from
// `gtm dns` (one read from a zone file, one with a steered name) and then answer every question
// as gtm does for static data, and with every pool address for the steered name (the fail-safe
// rendition `gtm zone export` writes too). A client outside `transfer.allow` is refused and
// learns nothing.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, kdig, run, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import {
  gtmZoneExport,
  knotConf,
  nsdConf,
  recordLines,
  startServer,
  ZONE_FIXTURES,
  type RunningServer,
} from '../helpers/secondaries.js';
import { waitFor } from '../helpers/wait.js';

// The TSIG key example.test's transfers must be signed with (RFC 8945, hmac-sha256).
const KEY = 'xfr-key';
const SECRET = Buffer.from('a secret of thirty-two bytes ok!').toString('base64');
process.env.GTM_TEST_TSIG = SECRET;
let dir: string;
let config: string;
let gtm: RunningDns;
const secondaries: RunningServer[] = [];

const records = recordLines;

/** The secondaries' ports, picked before gtm starts: its config names them for NOTIFY. */
const ports = { nsd: 0, knot: 0 };

/** NSD or Knot as a secondary of both zones (example.test's transfers signed), ready when it serves them. */
async function startSecondary(kind: 'nsd' | 'knot', gtmPort: number): Promise<RunningServer> {
  const port = ports[kind];
  const home = join(dir, kind);
  const key = { name: KEY, secret: SECRET };
  const conf =
    kind === 'nsd'
      ? nsdConf({
          port,
          home,
          key,
          zones: ['shop.test', 'example.test'].map((name) => ({
            name,
            primary: { port: gtmPort, signed: name === 'example.test' },
          })),
        })
      : knotConf({
          port,
          home,
          gtmPort,
          key,
          zones: [{ domain: 'shop.test' }, { domain: 'example.test', signed: true }],
        });
  const s = await startServer(kind, kind, port, home, conf, ['shop.test', 'example.test']);
  secondaries.push(s);
  return s;
}

beforeAll(async () => {
  dir = tempDir('gtm-xfr-');
  config = testConfig(dir);
  ports.nsd = await freePort();
  ports.knot = await freePort();
  // A copy of the zone file: the NOTIFY test edits it.
  for (const f of ['shop.test.zone', 'shop-eu.inc']) copyFileSync(join(ZONE_FIXTURES, f), join(dir, f));
  writeFileSync(
    config,
    readFileSync(config, 'utf8')
      .replace(
        /^zones:\n/m,
        `zones:\n  shop.test:\n    file: shop.test.zone\n    transfer: { allow: [127.0.0.1], notify: ['127.0.0.1:${ports.nsd}', '127.0.0.1:${ports.knot}'] }\n`,
      )
      .replace(
        /^  example\.test:\n/m,
        `  example.test:\n    transfer: { allow: [127.0.0.0/30], tsig: [${KEY}], notify: ['127.0.0.1:${ports.nsd}', '127.0.0.1:${ports.knot}'] }\n`,
      )
      // The primary keeps example.test's serial (soa.serial: auto).
      .replace(/serial: \d+/, 'serial: auto')
      .replace(/^dns:\n/m, `dns:\n  serial_file: ${join(dir, 'serials.json')}\n`)
      .replace(/^dns:\n/m, `dns:\n  tsig_keys: [{ name: ${KEY}, secret_env: GTM_TEST_TSIG }]\n`)
      .replace(/^zones:\n/m, 'zones:\n  catalog.test:\n    catalog: true\n    transfer: { allow: [127.0.0.1] }\n')
      // Enough records for a transfer of several messages (each signed, chained to the last).
      .replace(
        '    records:\n',
        `    records:\n${Array.from({ length: 2000 }, (_, i) => `      - { name: host${i}, type: A, value: 192.0.2.${i % 250} }`).join('\n')}\n`,
      ),
  );
  gtm = await startDns(config, 1);
}, 30_000);

afterAll(async () => {
  for (const s of secondaries) await s.stop();
  await gtm?.stop();
});

describe('AXFR from gtm dns', () => {
  it('sends the whole zone, SOA first and last, record for record what gtm zone export writes', async () => {
    const axfr = records(await kdig(gtm.port, ['+noall', '+answer', 'shop.test', 'AXFR']));
    expect(axfr[0]).toMatch(/^shop\.test\. 3600 IN SOA /);
    expect(axfr.at(-1)).toBe(axfr[0]);
    const exported = await gtmZoneExport(config, 'shop.test');
    const want = records(exported.stdout).filter((l) => !l.startsWith('$'));
    // The export writes SVCB and HTTPS in RFC 3597 form (TYPE64/65 \# ...), kdig in their own:
    // compared as the same owners (their bytes: the Knot test in zone-file.test.ts).
    const svcb = / IN (SVCB|HTTPS|TYPE64|TYPE65) /;
    const owners = (ls: string[]) => ls.filter((l) => svcb.test(l)).map((l) => l.split(' ')[0]);
    expect(owners(axfr.slice(1)).sort()).toEqual(owners(want).sort());
    expect(owners(want).length).toBe(4);
    expect(new Set(axfr.slice(1).filter((l) => !svcb.test(l)))).toEqual(new Set(want.filter((l) => !svcb.test(l))));
    await gtm.waitLog(
      new RegExp(`"event":"zone.transfer".*"zone":"shop.test","outcome":"sent ${axfr.length} records"`),
    );
  });

  it('refuses a client outside transfer.allow, which learns nothing', async () => {
    const r = await run('kdig', [
      `@127.0.0.1`,
      '-p',
      String(gtm.port),
      '-b',
      '127.0.0.9',
      '+noall',
      '+answer',
      '+comments',
      'shop.test',
      'AXFR',
    ]);
    expect(r.stdout + r.stderr).toMatch(/REFUSED/);
    expect(records(r.stdout)).toEqual([]);
    await gtm.waitLog(/"remote":"127.0.0.9","zone":"shop.test","outcome":"refused: not in transfer.allow"/);
  });

  it('signs a transfer with TSIG for a zone that needs it, and refuses a wrong, unknown or missing key', async () => {
    const axfr = (extra: string[]) =>
      run('kdig', [
        `@127.0.0.1`,
        '-p',
        String(gtm.port),
        '+noall',
        '+answer',
        '+comments',
        ...extra,
        'example.test',
        'AXFR',
      ]);
    // kdig checks our response's TSIG too: a wrong MAC there would fail this.
    const good = await axfr(['+stats', '-y', `hmac-sha256:${KEY}:${SECRET}`]);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    expect(records(good.stdout).filter((l) => / SOA /.test(l))).toHaveLength(2);
    expect(records(good.stdout).filter((l) => /^host\d+\.example\.test\. /.test(l))).toHaveLength(2000);
    expect(good.stdout).toMatch(/;; Received \d+ B \(([2-9]|\d\d+) messages/);
    const wrong = await axfr([
      '-y',
      `hmac-sha256:${KEY}:${Buffer.from('another secret, also 32 bytes!!!').toString('base64')}`,
    ]);
    expect(wrong.stdout + wrong.stderr).toMatch(/NOTAUTH|BADSIG/);
    expect(records(wrong.stdout)).toEqual([]);
    const unknown = await axfr(['-y', `hmac-sha256:other-key:${SECRET}`]);
    expect(unknown.stdout + unknown.stderr).toMatch(/NOTAUTH|BADKEY/);
    expect(records(unknown.stdout)).toEqual([]);
    const none = await axfr([]);
    expect(none.stdout + none.stderr).toMatch(/REFUSED/);
    expect(records(none.stdout)).toEqual([]);
    await gtm.waitLog(/"zone":"example.test","outcome":"sent \d+ records signed with xfr-key"/);
    await gtm.waitLog(/"outcome":"refused: TSIG MAC does not verify"/);
    await gtm.waitLog(/"outcome":"refused: TSIG no key other-key \(hmac-sha256\)"/);
    await gtm.waitLog(/"outcome":"refused: the zone needs a TSIG-signed request"/);
    expect(gtm.log()).not.toContain(SECRET);
  });

  for (const name of ['nsd', 'knot'] as const) {
    it(`${name} as a secondary transfers both zones and answers as the primary does`, async () => {
      const s = await startSecondary(name, gtm.port);
      for (const [q, type] of [
        ['shop.test', 'MX'],
        ['www.shop.test', 'A'],
        ['long.shop.test', 'TXT'],
        ['_sip._tcp.shop.test', 'SRV'],
        ['x.wild.shop.test', 'A'],
        ['api.eu.shop.test', 'A'],
        ['shop.test', 'SOA'],
        ['static.example.test', 'A'],
        ['example.test', 'MX'],
      ] as const) {
        const ask = async (port: number) => records(await kdig(port, ['+norec', '+noall', '+answer', q, type])).sort();
        expect(await ask(s.port), `${name}: ${q} ${type}`).toEqual(await ask(gtm.port));
      }
      // The steered name: the secondary serves every pool address (it cannot steer).
      const www = records(await kdig(s.port, ['+norec', '+noall', '+answer', 'www.example.test', 'A']));
      expect(www.map((l) => l.split(' ').at(-1)).sort()).toEqual(['198.51.100.10', '198.51.100.20', '198.51.100.30']);
    }, 60_000);
  }

  it('NOTIFY: a new serial reaches both secondaries at once (their refresh is an hour away)', async () => {
    const zoneFile = join(dir, 'shop.test.zone');
    writeFileSync(
      zoneFile,
      `${readFileSync(zoneFile, 'utf8').replace('2026120201 ; serial', '2026120202 ; serial')}notified IN A 192.0.2.222\n`,
    );
    gtm.proc.kill('SIGHUP');
    for (const s of secondaries)
      await waitFor(
        async () => (await kdig(s.port, ['+short', '+norec', 'notified.shop.test', 'A'])).trim() === '192.0.2.222',
        () => `${s.name} to transfer the new serial after our NOTIFY:\n${s.log().slice(-1500)}`,
        10_000,
      );
    for (const port of [ports.nsd, ports.knot])
      await gtm.waitLog(
        new RegExp(
          `"event":"zone.notify","zone":"shop.test","target":"127.0.0.1:${port}","serial":2026120202,"outcome":"acknowledged"`,
        ),
      );
    // Knot asks for the change alone (IXFR), and gets it from the history kept since the start.
    await gtm.waitLog(/"zone":"shop.test","outcome":"sent IXFR from serial 2026120201: \d+ records"/);
  }, 30_000);

  it('IXFR (RFC 1995): the change alone from a kept serial, the SOA alone when current, the zone when too old', async () => {
    const ixfr = async (serial: number) =>
      records(await kdig(gtm.port, ['+noall', '+answer', 'shop.test', `IXFR=${serial}`]));
    const diff = await ixfr(2026120201);
    const soa = (l: string) => l.split(' ')[6];
    expect(diff.map((l) => (/ SOA /.test(l) ? `SOA ${soa(l)}` : l))).toEqual([
      'SOA 2026120202',
      'SOA 2026120201',
      'SOA 2026120202',
      'notified.shop.test. 3600 IN A 192.0.2.222',
      'SOA 2026120202',
    ]);
    expect((await ixfr(2026120202)).map(soa)).toEqual(['2026120202']);
    const whole = await ixfr(2026010101);
    expect(whole.length).toBeGreaterThan(10);
    expect(whole.at(-1)).toBe(whole[0]);
    await gtm.waitLog(
      /"outcome":"sent \d+ records \(IXFR from serial 2026010101: no history back to it, sent in AXFR form\)"/,
    );
  });

  it('NOTIFY with an automatic serial: a YAML edit reaches both secondaries, TSIG-signed, with no serial to bump', async () => {
    const soa = async (port: number) =>
      Number((await kdig(port, ['+short', '+norec', 'example.test', 'SOA'])).split(' ')[2]);
    const before = await soa(gtm.port);
    // The shop.test reload above changed nothing example.test transfers: its serial stayed.
    expect(gtm.log()).not.toMatch(new RegExp(`"event":"zone.notify","zone":"example.test".*"serial":(?!${before})`));
    writeFileSync(
      config,
      readFileSync(config, 'utf8').replace(
        '    records:\n',
        '    records:\n      - { name: auto, type: A, value: 192.0.2.223 }\n',
      ),
    );
    gtm.proc.kill('SIGHUP');
    await waitFor(async () => (await soa(gtm.port)) > before, 'the serial to go up', 5000);
    const after = await soa(gtm.port);
    for (const s of secondaries)
      await waitFor(
        async () => (await kdig(s.port, ['+short', '+norec', 'auto.example.test', 'A'])).trim() === '192.0.2.223',
        () => `${s.name} to transfer example.test after our signed NOTIFY:\n${s.log().slice(-1500)}`,
        10_000,
      );
    for (const s of secondaries) expect(await soa(s.port)).toBe(after);
    for (const port of [ports.nsd, ports.knot])
      await gtm.waitLog(
        new RegExp(`"zone":"example.test","target":"127.0.0.1:${port}","serial":${after},"outcome":"acknowledged"`),
      );
  }, 30_000);

  it('a catalog zone (RFC 9432) lists the zones, and Knot consuming it transfers them unlisted', async () => {
    const catalog = records(await kdig(gtm.port, ['+noall', '+answer', 'catalog.test', 'AXFR']));
    expect(
      catalog
        .filter((l) => / (TXT|PTR) /.test(l))
        .map((l) => l.split(' ').slice(3).join(' '))
        .sort(),
    ).toEqual(['PTR example.test.', 'PTR shop.test.', 'TXT "2"']);
    const port = await freePort();
    const home = join(dir, 'knot-catalog');
    const conf = knotConf({
      port,
      home,
      gtmPort: gtm.port,
      key: { name: KEY, secret: SECRET },
      zones: [{ domain: 'catalog.test', catalog: true }],
    });
    // Ready once it serves both members, which its config never names.
    secondaries.push(await startServer('knot', 'knot (catalog)', port, home, conf, ['shop.test', 'example.test']));
    expect(records(await kdig(port, ['+norec', '+noall', '+answer', 'web.shop.test', 'A'])).length).toBe(2);
  }, 40_000);
});
