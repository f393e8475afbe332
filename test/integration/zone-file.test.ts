// Zone files with real DNS software: the same master file (SOA across lines, $INCLUDE, relative
// names, long TXT, CAA, SRV, MX, a wildcard, a CNAME, SVCB and HTTPS in RFC 9460 form) is served by `gtm dns` (zones.<name>.file)
// and by NSD loading it; every answer must be the same, record for record (a differential test).
// `gtm zone export` writes a file that named-checkzone and nsd-checkzone accept, that reads back
// into the same records, and that Knot loads (semantic checks on) and serves as gtm does.
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/index.js';
import { freePort, kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import {
  gtmZoneExport,
  knotBase,
  nsdConf,
  recordLines,
  startServer,
  ZONE_FIXTURES,
  type RunningServer,
} from '../helpers/secondaries.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let config: string;
let gtm: RunningDns;
let nsd: RunningServer;

/** The questions asked of both servers: every name and type in the file, and the misses around them. */
const QUESTIONS: [string, string][] = [
  // RFC 3597's generic form: the bytes as given, which kdig shows in each type's own form.
  ['www.generic.test', 'HTTPS'],
  ['_8443._foo.generic.test', 'SVCB'],
  ['_443._tcp.www.generic.test', 'TLSA'],
  ['opaque.generic.test', 'TYPE65534'],
  ['empty.generic.test', 'TYPE65280'],
  ['opaque.generic.test', 'A'],
  ['shop.test', 'SOA'],
  ['shop.test', 'NS'],
  ['shop.test', 'MX'],
  ['shop.test', 'TXT'],
  ['shop.test', 'CAA'],
  ['ns1.shop.test', 'A'],
  ['ns2.shop.test', 'A'],
  ['mail.shop.test', 'A'],
  ['mail.shop.test', 'AAAA'],
  ['www.shop.test', 'A'],
  ['web.shop.test', 'A'],
  ['web.shop.test', 'AAAA'],
  ['_sip._tcp.shop.test', 'SRV'],
  ['long.shop.test', 'TXT'],
  ['anything.wild.shop.test', 'A'],
  ['eu.shop.test', 'A'],
  ['api.eu.shop.test', 'A'],
  // RFC 9460's own form, read from the included file.
  ['eu.shop.test', 'HTTPS'],
  ['_dns.eu.shop.test', 'SVCB'],
  ['alias.eu.shop.test', 'HTTPS'],
  ['api.eu.shop.test', 'HTTPS'],
  ['after.shop.test', 'A'],
  ['nowhere.shop.test', 'A'],
  ['wild.shop.test', 'A'],
];

/** What a server says, as comparable text: rcode, AA, and the sections' records sorted. */
async function answer(port: number, name: string, type: string): Promise<string> {
  const out = await kdig(port, ['+norec', '+noall', '+header', '+answer', '+authority', name, type]);
  const rcode = out.match(/status: (\w+)/)?.[1];
  const aa = /flags:[^;]*\baa\b/i.test(out);
  const records = recordLines(out).sort();
  return [`${rcode} aa=${aa}`, ...records].join('\n');
}

beforeAll(async () => {
  dir = tempDir('gtm-zonefile-it-');
  config = testConfig(dir);
  // Served from copies in the test's own directory (the last test edits them).
  for (const f of ['shop.test.zone', 'shop-eu.inc', 'generic.test.zone'])
    copyFileSync(join(ZONE_FIXTURES, f), join(dir, f));
  writeFileSync(
    config,
    `${readFileSync(config, 'utf8')}\n`.replace(
      /^zones:\n/m,
      `zones:\n  shop.test:\n    file: shop.test.zone\n  generic.test:\n    file: generic.test.zone\n`,
    ),
  );
  gtm = await startDns(config, 1);
  const port = await freePort();
  const home = join(dir, 'nsd');
  const conf = nsdConf({
    port,
    home,
    zonesdir: ZONE_FIXTURES,
    zones: [{ name: 'shop.test' }, { name: 'generic.test' }],
  });
  nsd = await startServer('nsd', 'nsd', port, home, conf, ['shop.test', 'generic.test']);
}, 60_000);

afterAll(async () => {
  await gtm?.stop();
  await nsd?.stop();
});

describe('a zone file served by gtm dns and by NSD', () => {
  it('gives the same answer to every question, record for record', async () => {
    const differences: string[] = [];
    for (const [name, type] of QUESTIONS) {
      const [ours, theirs] = [await answer(gtm.port, name, type), await answer(nsd.port, name, type)];
      if (ours !== theirs) differences.push(`${name} ${type}\n--- gtm\n${ours}\n--- nsd\n${theirs}`);
    }
    expect(differences).toEqual([]);
    // Both served them (not both silent): kdig reads our bytes in each type's own form.
    expect(await answer(gtm.port, 'www.generic.test', 'HTTPS')).toMatch(/HTTPS\s+1 \. alpn=h2/);
    expect(await answer(gtm.port, '_8443._foo.generic.test', 'SVCB')).toMatch(
      /SVCB\s+1 svc\.generic\.test\. port=8443/,
    );
  }, 60_000);
});

describe('gtm zone export', () => {
  it('writes a master file that named-checkzone and nsd-checkzone accept, and that reads back the same', async () => {
    const out = join(dir, 'exported.zone');
    const r = await gtmZoneExport(config, 'shop.test', out);
    expect(r.code, r.stderr).toBe(0);
    const bind = spawnSync('named-checkzone', ['shop.test', out], { encoding: 'utf8' });
    expect(bind.status, bind.stdout + bind.stderr).toBe(0);
    expect(bind.stdout).toMatch(/loaded serial 2026120201/);
    const nsdCheck = spawnSync('nsd-checkzone', ['shop.test', out], { encoding: 'utf8' });
    expect(nsdCheck.status, nsdCheck.stdout + nsdCheck.stderr).toBe(0);
    // Read back through zones.<name>.file: the same SOA, NS and records.
    const again = join(dir, 'again.yaml');
    writeFileSync(again, readFileSync(config, 'utf8').replace('file: shop.test.zone', `file: ${out}`));
    // (Only the list of files read differs: the fixture and its include, or the export alone.)
    const [a, b] = [loadConfigFile(config), loadConfigFile(again)].map((c) => {
      const { files, ...zone } = c.zones.find((z) => z.name === 'shop.test') ?? {};
      return { zone, files: files?.length };
    });
    expect(b).toEqual({ ...a, files: 1 });
  });

  it('Knot loads the export with its semantic checks on and answers every question as gtm does', async () => {
    // (kzonecheck is not in Debian's knot package; knotd runs the same checks when it loads a zone.)
    const out = join(dir, 'exported-for-knot.zone');
    expect((await gtmZoneExport(config, 'shop.test', out)).code).toBe(0);
    const home = join(dir, 'knot-export');
    const port = await freePort();
    const conf = `${knotBase({ port, home })}template:\n  - id: default\n    storage: "${home}"\n    semantic-checks: on\n    zonefile-sync: -1\n    journal-content: none\nzone:\n  - domain: shop.test\n    file: "${out}"\n`;
    const knot = await startServer('knot', 'knot-export', port, home, conf, ['shop.test']);
    try {
      const differences: string[] = [];
      for (const [name, type] of QUESTIONS.filter(([n]) => n.endsWith('shop.test'))) {
        const [ours, theirs] = [await answer(gtm.port, name, type), await answer(port, name, type)];
        if (ours !== theirs) differences.push(`${name} ${type}\n--- gtm\n${ours}\n--- knot\n${theirs}`);
      }
      expect(differences).toEqual([]);
      expect(knot.log()).not.toMatch(/semantic check|error/i);
    } finally {
      await knot.stop();
    }
  }, 60_000);

  it('renders steered names as every pool address (what a secondary without our steering serves)', async () => {
    const r = await gtmZoneExport(config, 'example.test');
    expect(r.code, r.stderr).toBe(0);
    const www = r.stdout.split('\n').filter((l) => l.startsWith('www.example.test.'));
    expect(www.map((l) => l.split('\t').slice(3).join(' ')).sort()).toEqual(
      [
        'A 198.51.100.10',
        'A 198.51.100.20',
        'A 198.51.100.30',
        'AAAA 2001:db8:10::10',
        'AAAA 2001:db8:20::20',
        'AAAA 2001:db8:30::30',
      ].sort(),
    );
    const file = join(dir, 'example.zone');
    writeFileSync(file, r.stdout);
    const bind = spawnSync('named-checkzone', ['example.test', file], { encoding: 'utf8' });
    expect(bind.status, bind.stdout + bind.stderr).toBe(0);
  });
});

describe('a zone file edited under a running gtm dns', () => {
  it('is read again on SIGHUP (the file changed, not the config), and a broken edit is refused', async () => {
    const zoneFile = join(dir, 'shop.test.zone');
    appendFileSync(zoneFile, 'added  IN  A  192.0.2.200\n');
    gtm.proc.kill('SIGHUP');
    await waitFor(
      async () => (await kdig(gtm.port, ['+short', 'added.shop.test', 'A'])).trim() === '192.0.2.200',
      'the new record to be served',
      5000,
    );
    appendFileSync(zoneFile, 'broken IN A 999.0.0.1\n');
    gtm.proc.kill('SIGHUP');
    await gtm.waitLog(/"event":"config.refused".*shop\.test\.zone:\d+/);
    expect((await kdig(gtm.port, ['+short', 'added.shop.test', 'A'])).trim()).toBe('192.0.2.200');
  });
});
