// A large configuration reloaded while dnsperf sends a steady load: no query goes unanswered
// (the primary parses once; workers take the new config one at a time while the others serve).
import { spawn } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

const RECORDS = 100_000;
let dns: RunningDns;
let dir: string;
let config: string;
let base: string;

/** The example zone plus RECORDS static records; `mark` changes one answer so a reload shows. */
function bigConfig(mark: number): string {
  const records = Array.from(
    { length: RECORDS },
    (_, i) => `      - { name: h${i}, type: A, value: 192.0.${(i >> 8) & 255}.${i & 255} }\n`,
  ).join('');
  return base.replace(
    '    records:\n',
    `    records:\n      - { name: mark, type: TXT, value: "v${mark}" }\n${records}`,
  );
}

beforeAll(async () => {
  dir = tempDir('gtm-reload-');
  config = testConfig(dir);
  base = readFileSync(config, 'utf8');
  writeFileSync(config, bigConfig(0));
  dns = await startDns(config, 2);
}, 60_000);
afterAll(async () => {
  await dns?.stop();
});

describe('reload under load', () => {
  it(`reloads a ${RECORDS.toLocaleString('en')}-record config twice under a steady dnsperf load: no query lost, none stalled`, async () => {
    writeFileSync(join(dir, 'queries.txt'), 'www.example.test A\nh123.example.test A\nexample.test SOA\n');
    const perf = spawn(
      'dnsperf',
      [
        '-s',
        '127.0.0.1',
        '-p',
        String(dns.port),
        '-d',
        join(dir, 'queries.txt'),
        '-l',
        '20',
        '-Q',
        '5000',
        '-c',
        '2',
        '-t',
        '2',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    perf.stdout.on('data', (d) => (out += d));
    perf.stderr.on('data', (d) => (out += d));
    const finished = new Promise<number | null>((r) => perf.once('exit', r));
    const reloads = () => (dns.log().match(/"event":"config\.reloaded"/g) ?? []).length;
    const before = reloads();
    for (const mark of [1, 2]) {
      await new Promise((r) => setTimeout(r, 2000)); // under load for a while first
      writeFileSync(`${config}.tmp`, bigConfig(mark));
      renameSync(`${config}.tmp`, config);
      await waitFor(() => reloads() >= before + mark, `reload ${mark}`, 20_000, 100);
    }
    expect(await finished).toBe(0);
    console.log(
      out
        .split('\n')
        .filter((l) => /Queries (sent|completed|lost)|Queries per second|Latency/.test(l))
        .join('\n'),
    );
    expect(Number(/Queries sent:\s+(\d+)/.exec(out)?.[1])).toBeGreaterThan(20_000);
    expect(out).toMatch(/Queries lost:\s+0 /);
    // No stall either: while one worker swaps its config the other answers (a swap of the
    // 100k-record zone takes ~300 ms of a worker's loop; done by both at once it showed as a
    // 420 ms maximum latency).
    expect(Number(/Average Latency \(s\):.*max ([0-9.]+)\)/.exec(out)?.[1])).toBeLessThan(0.1);
    expect((await kdig(dns.port, ['+short', 'mark.example.test', 'TXT'])).trim()).toBe('"v2"');
  }, 120_000);
});
