// A flood of new names, seen from outside: while a worker is saturated and refusing memo misses
// its UDP receive buffer (what `ss` reports as the socket's rb) is held short, so the flood cannot
// queue hundreds of queries ahead of everyone else; it is given back in full when the flood
// stops, and the event and the metric say it happened. On both UDP paths.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { kdig, startDns, tempDir, testConfig, UDP_PATHS, type RunningDns } from '../helpers/dns.js';

/** The receive buffer (rb) of the UDP sockets bound to the port, as the kernel reports them. */
function receiveBuffers(port: number): number[] {
  const out = execFileSync('ss', ['-uamnH', `sport = :${port}`]).toString();
  return [...out.matchAll(/\brb(\d+)/g)].map((m) => Number(m[1]));
}

const running: RunningDns[] = [];
afterAll(async () => {
  for (const d of running) await d.stop();
});

describe.each(UDP_PATHS)('a flood of new names on the %s UDP path', (io) => {
  it('holds the UDP queue short while the worker is saturated, and gives it back after', async () => {
    const dir = tempDir();
    const dns = await startDns(testConfig(dir, { io }), 1);
    running.push(dns);
    const full = receiveBuffers(dns.port);
    expect(full.length).toBe(1);
    const names = join(dir, 'names.txt');
    writeFileSync(names, Array.from({ length: 50_000 }, (_, i) => `n${i}x${process.pid}.example.test A`).join('\n'));
    // Bounded: dnsperf stops after 4 s on its own.
    const perf = spawn(
      'dnsperf',
      ['-s', '127.0.0.1', '-p', String(dns.port), '-d', names, '-l', '4', '-c', '4', '-q', '200', '-t', '1'],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise((r) => perf.once('exit', r));
    const during: number[] = [];
    while (perf.exitCode === null) {
      during.push(...receiveBuffers(dns.port));
      await new Promise((r) => setTimeout(r, 100));
    }
    await exited;
    expect(Math.min(...during)).toBeLessThan((full[0] as number) / 4);
    await dns.waitLog(/"event":"dns\.saturated".*"udpReceiveBuffer":65536/, 5000);
    // The flood over, the worker has time again: the whole buffer is back after a second of calm.
    const deadline = Date.now() + 3000;
    while (receiveBuffers(dns.port)[0] !== full[0] && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(receiveBuffers(dns.port)).toEqual(full);
    expect((await kdig(dns.port, ['+short', 'static.example.test', 'A'])).trim()).toBe('192.0.2.80');
    const metricsAt = (/"metrics":"(http:\/\/[^"]+\/metrics)"/.exec(dns.log()) as RegExpExecArray)[1] as string;
    const body = await (await fetch(metricsAt)).text();
    expect(Number(/^gtm_dns_saturated_seconds_total (\S+)/m.exec(body)?.[1])).toBeGreaterThan(0);
    expect(Number(/^gtm_dns_over_budget_total\{action="truncated"\} (\d+)/m.exec(body)?.[1])).toBeGreaterThan(0);
  }, 30_000);
});
