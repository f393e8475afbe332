// `soa.serial: auto` through the real `gtm dns`: the serial the zone's SOA carries stays put
// across reloads that change nothing and across a restart (dns.serial_file), goes up when the
// zone's content changes, and `gtm check-config` shows it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kdig, ROOT, run, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let cfg: string;
let dns: RunningDns | undefined;
const serialFile = () => join(dir, 'serials.json');
const soaSerial = async () => {
  const soa = (await kdig((dns as RunningDns).port, ['+short', 'example.test', 'SOA'])).trim().split(/\s+/);
  return Number(soa[2]);
};

beforeAll(async () => {
  dir = tempDir('gtm-serial-');
  cfg = testConfig(dir);
  const text = readFileSync(cfg, 'utf8')
    .replace(/serial: \d+/, 'serial: auto')
    .replace(/^dns:\n/m, `dns:\n  serial_file: ${serialFile()}\n`);
  writeFileSync(cfg, text);
});
afterAll(async () => {
  await dns?.stop();
});

describe('automatic SOA serials', () => {
  let first: number;
  it('are the clock when first served, and kept on disk', async () => {
    const before = Math.floor(Date.now() / 1000);
    dns = await startDns(cfg, 1);
    first = await soaSerial();
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    const kept = JSON.parse(readFileSync(serialFile(), 'utf8')) as Record<string, { serial: number }>;
    expect(kept['example.test']?.serial).toBe(first);
  });

  it('stay put through a reload that changes nothing the zone transfers, and through a restart', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // the clock has moved on
    // A comment is an edit of the file, not of the zone.
    writeFileSync(cfg, `${readFileSync(cfg, 'utf8')}\n# touched\n`);
    (dns as RunningDns).proc.kill('SIGHUP');
    await (dns as RunningDns).waitLog(/configuration reloaded/);
    expect(await soaSerial()).toBe(first);
    await (dns as RunningDns).stop();
    dns = await startDns(cfg, 1);
    expect(await soaSerial()).toBe(first);
  });

  it('go up when the content changes, and check-config shows them', async () => {
    writeFileSync(
      cfg,
      readFileSync(cfg, 'utf8').replace(
        '    records:\n',
        '    records:\n      - { name: added, type: A, value: 192.0.2.77 }\n',
      ),
    );
    (dns as RunningDns).proc.kill('SIGHUP');
    await waitFor(async () => (await soaSerial()) !== first, 'the serial to change', 5000);
    const second = await soaSerial();
    expect(second).toBeGreaterThan(first);
    const check = await run(process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'check-config', cfg]);
    expect(check.stdout).toContain(`example.test: SOA serial ${second} (auto, kept in ${serialFile()})`);
  });

  it('refuse to start from a serial file they cannot read, rather than start over behind the secondaries', async () => {
    await (dns as RunningDns).stop();
    dns = undefined;
    writeFileSync(serialFile(), '{"example.test": {"serial": "soon"}}');
    await expect(startDns(cfg, 1)).rejects.toThrow(/serial_file .* has no valid serial/);
  });
});
