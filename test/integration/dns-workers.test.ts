// The DNS primary and its workers: workers take their config from the primary (never the
// file), a dead worker is replaced and serves, and /metrics aggregates every worker.
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import {
  freePort,
  gtmExplain,
  kdig,
  ROOT,
  startDns,
  tempDir,
  testConfig,
  udpExchange,
  watchChild,
  workerPids,
  type RunningDns,
} from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

let dns: RunningDns;
let config: string;
let original: string;

const readyCount = () => (dns.log().match(/"event":"dns\.worker\.ready"/g) ?? []).length;

beforeAll(async () => {
  config = testConfig(tempDir());
  original = readFileSync(config, 'utf8');
  dns = await startDns(config, 2);
  await waitFor(() => readyCount() === 2, 'both workers to answer');
});
afterAll(async () => {
  await dns?.stop();
});

describe('dns workers', () => {
  it('a worker killed after a refused reload comes back on the config the primary serves, not the bad file', async () => {
    const before = workerPids(dns.proc.pid as number);
    expect(before).toHaveLength(2);
    appendFileSync(config, 'not_a_key: 1\n');
    await dns.waitLog(/"event":"config\.refused"/);
    process.kill(before[0] as number, 'SIGKILL');
    await waitFor(() => readyCount() === 3, 'the replacement worker to answer', 10_000);
    const after = workerPids(dns.proc.pid as number);
    expect(after).toHaveLength(2);
    expect(after).not.toContain(before[0]);
    expect(dns.log()).not.toMatch(/ConfigError|not_a_key.*worker/);
    // Every worker answers (the kernel spreads these over both).
    for (let i = 0; i < 40; i++) {
      const r = await udpExchange(dns.port, buildQuery('www.example.test', TYPE.A, { id: i }));
      expect(r?.readUInt16BE(0)).toBe(i);
    }
    // Fixing the file is a normal reload; still two workers, no stragglers.
    writeFileSync(config, original.replace('value: 192.0.2.25', 'value: 192.0.2.27'));
    await waitFor(
      async () => (await kdig(dns.port, ['+short', 'mail.example.test', 'A'])).trim() === '192.0.2.27',
      'the fixed file to be applied',
    );
    // A worker answers from the new config before the last one has it (and the reload is logged).
    await dns.waitLog(/"event":"config\.reloaded","why":"file changed"/);
    expect(workerPids(dns.proc.pid as number)).toEqual(after);
  });

  it('reloads an edit once, even when SIGHUP and the file watcher both see it', async () => {
    const before = (dns.log().match(/"event":"config\.reloaded"/g) ?? []).length;
    writeFileSync(config, original.replace('value: 192.0.2.25', 'value: 192.0.2.28'));
    dns.proc.kill('SIGHUP');
    await waitFor(
      async () => (await kdig(dns.port, ['+short', 'mail.example.test', 'A'])).trim() === '192.0.2.28',
      'the edit',
    );
    await new Promise((r) => setTimeout(r, 600)); // the watcher's debounce (200 ms) has long passed
    expect((dns.log().match(/"event":"config\.reloaded"/g) ?? []).length - before).toBe(1);
  });

  it('serves /metrics aggregated across both workers within a second, with counters that moved', async () => {
    const m = /"metrics":"(http:\/\/[^"]+)"/.exec(dns.log());
    expect(m).not.toBeNull();
    const url = (m as RegExpExecArray)[1] as string;
    for (let i = 0; i < 100; i++) await udpExchange(dns.port, buildQuery('www.example.test', TYPE.A, { id: i }));
    const scrape = async () => {
      const t0 = Date.now();
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      const body = await res.text();
      return { status: res.status, body, ms: Date.now() - t0 };
    };
    const answered = (body: string) =>
      [...body.matchAll(/^gtm_dns_queries_total\{[^}]*qtype="A"[^}]*\} (\d+)$/gm)].reduce(
        (n, x) => n + Number(x[1]),
        0,
      );
    // Workers flush their counters every second; wait for this test's queries to show.
    await waitFor(async () => answered((await scrape()).body) >= 100, 'the queries to be counted', 5000, 200);
    const r = await scrape();
    expect(r.status).toBe(200);
    expect(r.ms).toBeLessThan(1000);
    expect(r.body).toMatch(/^gtm_dns_answer_seconds_count\{transport="udp"\} \d+/m);
    expect(r.body).toMatch(/^gtm_dns_reloads_total\{result="refused"\} 1$/m);
  });
});

describe("the workers' V8 flags", () => {
  const argsOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  it('workers run with a small young generation and a tight old one; an operator flag of the same name wins', async () => {
    for (const pid of workerPids(dns.proc.pid as number))
      expect(argsOf(pid)).toEqual(expect.arrayContaining(['--max-semi-space-size=4', '--heap-growing-percent=100']));
    const port = await freePort();
    const proc = spawn(
      process.execPath,
      [
        '--heap-growing-percent=0',
        join(ROOT, 'bin', 'gtm.js'),
        'dns',
        '--config',
        config,
        '--listen',
        `127.0.0.1:${port}`,
        '--workers',
        '1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const { log, stop } = watchChild(proc);
    try {
      await waitFor(() => /"event":"dns\.worker\.ready"/.test(log()), 'the worker', 15_000);
      const [pid] = workerPids(proc.pid as number);
      const args = argsOf(pid as number);
      expect(args).toContain('--heap-growing-percent=0');
      expect(args).not.toContain('--heap-growing-percent=100');
      expect(args).toContain('--max-semi-space-size=4');
    } finally {
      await stop();
    }
  }, 30_000);
});

describe('reloads that apply, once, and never kill', () => {
  const reloads = (log: string) => (log.match(/"event":"config\.reloaded"/g) ?? []).length;

  it('a region state edited in a config without a control section is applied on reload, as explain says, once', async () => {
    const file = testConfig(tempDir());
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/^control:/m);
    const server = await startDns(file, 2);
    try {
      const newYork = async () =>
        (await kdig(server.port, ['+short', '+subnet=198.18.3.0/24', 'www.example.test', 'A'])).trim();
      expect(await newYork()).toBe('198.51.100.10');
      writeFileSync(file, text.replace('    country: US\n', '    country: US\n    state: down\n'));
      // The watcher sees the edit; a SIGHUP after it (a config-management run) finds nothing new.
      await waitFor(() => reloads(server.log()) === 1, 'the watcher to reload the edit', 5000);
      server.proc.kill('SIGHUP');
      await waitFor(async () => (await newYork()) === '198.51.100.20', 'us-east to leave the answers', 5000);
      const explained = (
        await gtmExplain(file, ['--client', '127.0.0.1', '--ecs', '198.18.3.0/24', 'www.example.test'])
      ).stdout;
      expect(explained).toMatch(/answer: www\.example\.test \d+ A 198\.51\.100\.20/);
      await new Promise((r) => setTimeout(r, 600));
      expect(reloads(server.log())).toBe(1);
      expect(server.log()).toMatch(/"event":"region\.state","region":"us-east","from":"up","to":"down"/);
    } finally {
      await server.stop();
    }
  });

  it('a SIGHUP at once after the first answer (workers still starting) does not kill the server; the reload is applied', async () => {
    const file = testConfig(tempDir());
    const text = readFileSync(file, 'utf8');
    const port = await freePort();
    const proc = spawn(
      process.execPath,
      [join(ROOT, 'bin', 'gtm.js'), 'dns', '--config', file, '--listen', `127.0.0.1:${port}`, '--workers', '2'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const { log, stop } = watchChild(proc);
    try {
      const mail = async () => (await kdig(port, ['+short', '+time=1', '+retry=0', 'mail.example.test', 'A'])).trim();
      await waitFor(async () => (await mail().catch(() => '')) === '192.0.2.25', 'the first answer', 15_000, 20);
      writeFileSync(file, text.replace('value: 192.0.2.25', 'value: 192.0.2.26'));
      proc.kill('SIGHUP');
      await waitFor(
        async () => (await mail()) === '192.0.2.26',
        () => `the reload to apply:\n${log()}`,
        10_000,
        100,
      );
      expect(proc.exitCode).toBeNull();
      expect(proc.signalCode).toBeNull();
      expect(log()).not.toMatch(/EPIPE|unhandled/i);
    } finally {
      await stop();
    }
  }, 30_000);
});
