// Zone files and transfers at size: a 100,000-record master file (A, AAAA, TXT, MX, CNAME, SRV
// names across the zone) read by `gtm check-config` and by `gtm dns`, then transferred to NSD
// as a secondary, then one change (a new serial) carried by NOTIFY and IXFR. Reference in the same run:
// NSD's own `nsd-checkzone` reading the same file. Prints figures; asserts nothing.
//   npm run bench:zone
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/runtime/index.js';
import { buildTestDatabases, withGeoDatabase } from '../geodata/build-test-db.js';
import { children, startGtm, waitForAnswer, workerRss } from './kit.js';

const ROOT = packageRoot();
const RECORDS = 100_000;

function masterFile(serial: number, extra = ''): string {
  const lines = [
    '$ORIGIN big.test.',
    '$TTL 300',
    `@ 3600 IN SOA ns1 hostmaster ${serial} 3600 600 604800 60`,
    '  IN NS ns1',
    'ns1 IN A 192.0.2.53',
  ];
  for (let i = 0; i < RECORDS; i++) {
    const n = `h${i}`;
    switch (i % 6) {
      case 0:
        lines.push(`${n} IN A 198.51.${(i >> 8) & 255}.${i & 255}`);
        break;
      case 1:
        lines.push(`${n} IN AAAA 2001:db8::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`);
        break;
      case 2:
        lines.push(`${n} IN TXT "record ${i} of a large zone" "second string"`);
        break;
      case 3:
        lines.push(`${n} IN MX 10 mail${i % 100}.big.test.`);
        break;
      case 4:
        lines.push(`${n} IN CNAME h${i - 4}`);
        break;
      default:
        lines.push(`_s${i}._tcp IN SRV 10 5 443 h${i - 5}`);
    }
  }
  return `${lines.join('\n')}\n${extra}`;
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const kdig = (port: number, args: string[]) =>
  execFileSync('kdig', ['@127.0.0.1', '-p', String(port), '+time=2', '+retry=0', ...args], {
    maxBuffer: 256 << 20,
  }).toString();

async function until(what: string, ok: () => boolean, limitMs: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  while (!ok()) {
    if (ms(t0) > limitMs) throw new Error(`${what} took over ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return ms(t0);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gtm-bench-zone-'));
  const zoneFile = join(dir, 'big.test.zone');
  writeFileSync(zoneFile, masterFile(1));
  const { city } = buildTestDatabases(dir);
  const port = 27353 + Math.floor(Math.random() * 1000);
  const nsdPort = port + 1;
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    withGeoDatabase(readFileSync(join(ROOT, 'examples', 'three-regions.yaml'), 'utf8'), city)
      .replace('metrics: 127.0.0.1:9153', 'metrics: 127.0.0.1:0')
      .replace(
        /^zones:\n/m,
        `zones:\n  big.test:\n    file: ${zoneFile}\n    transfer: { allow: [127.0.0.1], notify: ['127.0.0.1:${nsdPort}'] }\n`,
      ),
  );
  console.log(
    `zone: ${RECORDS.toLocaleString()} records + SOA/NS (${(readFileSync(zoneFile).length / 1e6).toFixed(1)} MB)`,
  );

  // Reading the file: gtm's parser and checks, against NSD's own reader of the same file.
  let t0 = process.hrtime.bigint();
  execFileSync(process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'check-config', config], { stdio: 'ignore' });
  const gtmCheck = ms(t0);
  t0 = process.hrtime.bigint();
  execFileSync('nsd-checkzone', ['big.test', zoneFile], { stdio: 'ignore' });
  const nsdCheck = ms(t0);
  console.log(
    `read and check the file: gtm check-config ${gtmCheck.toFixed(0)} ms, nsd-checkzone ${nsdCheck.toFixed(0)} ms (${(gtmCheck / nsdCheck).toFixed(2)}x)`,
  );

  t0 = process.hrtime.bigint();
  const gtm = startGtm(config, port);
  await waitForAnswer(port);
  const start = ms(t0);
  const rss = workerRss(gtm.child);
  console.log(`gtm dns start to first answer: ${start.toFixed(0)} ms; worker RSS ${rss.join(', ')} MB`);

  t0 = process.hrtime.bigint();
  const axfr = kdig(port, ['+noall', '+answer', 'big.test', 'AXFR'])
    .split('\n')
    .filter((l) => l && !l.startsWith(';')).length;
  console.log(`AXFR to kdig: ${axfr.toLocaleString()} records in ${ms(t0).toFixed(0)} ms`);

  // NSD as a secondary: from its start to serving the zone (the whole transfer), then a change.
  writeFileSync(
    join(dir, 'nsd.conf'),
    `server:\n  ip-address: 127.0.0.1@${nsdPort}\n  port: ${nsdPort}\n  username: ""\n  chroot: ""\n  zonesdir: "${dir}"\n  pidfile: "${join(dir, 'nsd.pid')}"\n  database: ""\n  zonelistfile: "${join(dir, 'zone.list')}"\n  xfrdfile: "${join(dir, 'xfrd.state')}"\n  xfrdir: "${dir}"\n  server-count: 1\nremote-control:\n  control-enable: no\nzone:\n  name: big.test\n  zonefile: nsd-big.test.zone\n  request-xfr: 127.0.0.1@${port} NOKEY\n  allow-notify: 127.0.0.1 NOKEY\n  provide-xfr: 127.0.0.1 NOKEY\n  notify: 127.0.0.1@${port + 2} NOKEY\n  store-ixfr: yes\n`,
  );
  const nsd = spawn('nsd', ['-d', '-c', join(dir, 'nsd.conf')], { stdio: 'ignore' });
  children.push(nsd);
  const served = (name: string) => {
    try {
      return kdig(nsdPort, ['+short', '+norec', name, 'A']).trim() !== '';
    } catch {
      return false;
    }
  };
  const full = await until('NSD to transfer the zone', () => served('h99996.big.test'), 120_000);
  console.log(`AXFR to NSD (a secondary's first transfer, from its start): ${full.toFixed(0)} ms`);

  // gtm dns as a secondary of NSD (which got the zone from the gtm above): AXFR in, then the change by IXFR.
  const secondaryPort = port + 2;
  const secondaryConfig = join(dir, 'secondary.yaml');
  writeFileSync(
    secondaryConfig,
    readFileSync(config, 'utf8')
      .replace(/^dns:\n/m, `dns:\n  secondary_dir: ${join(dir, 'kept')}\n`)
      .replace(/^  big\.test:\n.*\n.*\n/m, `  big.test:\n    primary: ['127.0.0.1:${nsdPort}']\n`),
  );
  t0 = process.hrtime.bigint();
  const secondary = startGtm(secondaryConfig, secondaryPort);
  await waitForAnswer(secondaryPort);
  const servedBy = (p: number, name: string) => {
    try {
      return kdig(p, ['+short', '+norec', name, 'A']).trim() !== '';
    } catch {
      return false;
    }
  };
  await until('gtm (secondary) to take the zone', () => servedBy(secondaryPort, 'h99996.big.test'), 120_000);
  console.log(
    `gtm dns as a secondary of NSD: start to serving the zone ${ms(t0).toFixed(0)} ms (AXFR in, checked, kept on disk, compiled); worker RSS ${workerRss(secondary.child).join(', ')} MB`,
  );

  writeFileSync(zoneFile, masterFile(2, 'changed IN A 192.0.2.201\n'));
  t0 = process.hrtime.bigint();
  gtm.child.kill('SIGHUP');
  const change = await until('the change to reach NSD', () => served('changed.big.test'), 120_000);
  console.log(
    `one change (new serial): SIGHUP to NSD serving it ${ms(t0).toFixed(0)} ms (the reload with its IXFR history step, NOTIFY, NSD's IXFR); polled ${change.toFixed(0)} ms`,
  );
  t0 = process.hrtime.bigint();
  await until('the change to reach gtm (secondary)', () => servedBy(secondaryPort, 'changed.big.test'), 120_000);
  const how = secondary.events.filter((l) => l.includes('"zone.refresh"')).at(-1) ?? '';
  console.log(
    `the same change from NSD to gtm dns as its secondary: ${ms(t0).toFixed(0)} ms (NSD's NOTIFY, ${/"outcome":"([A-Z]+)/.exec(how)?.[1] ?? '?'} in, the zone checked and compiled again)`,
  );
  t0 = process.hrtime.bigint();
  const ixfr = kdig(port, ['+noall', '+answer', 'big.test', 'IXFR=1'])
    .split('\n')
    .filter((l) => l && !l.startsWith(';')).length;
  console.log(`IXFR of that change to kdig: ${ixfr} records in ${ms(t0).toFixed(0)} ms (reference: the AXFR above)`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
