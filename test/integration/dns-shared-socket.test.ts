// The batched path's socket layouts, seen from outside with one worker stopped (SIGSTOP: as a
// worker busy on a reload, a flood or the CPU it cannot get). On the socket the workers share,
// the other worker answers every client; with a socket per worker, the clients the kernel hashed
// to the stopped one wait for it. Why `shared` is the default (docs/dns.md, "Batched UDP").
import { afterEach, describe, expect, it } from 'vitest';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import {
  startDns,
  tempDir,
  testConfig,
  udpExchange,
  workerPids,
  type RunningDns,
  type UdpSockets,
} from '../helpers/dns.js';

const CLIENTS = 40;

/** Clients each asking once from a port of their own; how many were answered within 1.5 s. */
async function answeredClients(port: number): Promise<number> {
  const q = buildQuery('www.example.test', TYPE.A, { id: 7 });
  const replies = await Promise.all(Array.from({ length: CLIENTS }, () => udpExchange(port, q, 1500)));
  return replies.filter(Boolean).length;
}

let dns: RunningDns | undefined;
let stopped: number | undefined;
afterEach(async () => {
  if (stopped) process.kill(stopped, 'SIGCONT');
  stopped = undefined;
  await dns?.stop();
  dns = undefined;
});

describe.each<UdpSockets>(['shared', 'per-worker'])('the batched path, sockets %s', (udpSockets) => {
  it('answers clients while one of two workers is stopped: all on a shared socket, not all per worker', async () => {
    dns = await startDns(testConfig(tempDir('gtm-shared-'), { io: 'batched', udpSockets }), 2);
    await dns.waitLog(new RegExp(`"udpSockets":"${udpSockets}"[^\\n]*\\n[^]*"udpSockets":"${udpSockets}"`));
    await dns.waitLog(/dns worker answering[^]*dns worker answering/);
    expect(await answeredClients(dns.port)).toBe(CLIENTS);
    // The layout is in the metrics too, counted per worker.
    const metricsAt = (/"metrics":"(http:\/\/[^"]+\/metrics)"/.exec(dns.log()) as RegExpExecArray)[1] as string;
    const body = await (await fetch(metricsAt)).text();
    expect(body).toContain(`gtm_dns_udp_io_workers{path="batched",sockets="${udpSockets}"} 2`);
    const workers = workerPids(dns.proc.pid as number);
    expect(workers).toHaveLength(2);
    stopped = workers[0] as number;
    process.kill(stopped, 'SIGSTOP');
    const answered = await answeredClients(dns.port);
    // Per worker, about half the clients are hashed to the stopped one (none of 40: p = 2^-40).
    if (udpSockets === 'shared') expect(answered).toBe(CLIENTS);
    else expect(answered).toBeLessThan(CLIENTS);
    process.kill(stopped, 'SIGCONT');
    stopped = undefined;
    expect(await answeredClients(dns.port)).toBe(CLIENTS);
  }, 30_000);
});
