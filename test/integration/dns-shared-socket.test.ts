// The batched path's socket layouts, seen from outside with one worker stopped (SIGSTOP: as a
// worker busy on a reload, a flood or the CPU it cannot get). On the socket the workers share,
// the other worker answers every client; with a socket per worker, the clients the kernel hashed
// to the stopped one wait for it. Why `shared` is the default (docs/dns.md, "Batched UDP").
// On the shared socket one worker leads and the other stands by until datagrams wait: it joins
// when the leader is stopped, leaves once not needed, and the lead passes on when its holder exits.
// Also: a datagram wakes one worker, not every idle one (counted in the workers' context
// switches), and answers that find the socket's send buffer full wait for room, inside a network
// namespace whose loopback sends at 4 Mbit/s.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { addNs, delNs, execIn, fetchInAsync } from '../../lab/netns.js';
import { waitForValue } from '../helpers/wait.js';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import {
  run,
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

/**
 * A reader of one series from the server's metrics (the workers report each second), fetched from
 * inside namespace `ns` when given.
 */
function metricsOf(server: RunningDns, ns?: string): (series: string) => Promise<number> {
  const at = (/"metrics":"(http:\/\/[^"]+\/metrics)"/.exec(server.log()) as RegExpExecArray)[1] as string;
  return async (series) => {
    const body = ns ? (await fetchInAsync(ns, at)).body : await (await fetch(at)).text();
    const line = body.split('\n').find((l) => l.startsWith(`${series} `));
    return Number(line?.slice(series.length + 1) ?? NaN);
  };
}

/** Waits until `n` workers read their socket (a gauge the workers report each second). */
async function readersReach(metrics: (series: string) => Promise<number>, n: number): Promise<void> {
  await waitForValue(
    'workers reading',
    () => metrics('gtm_dns_udp_readers'),
    (v) => v === n,
    5000,
    200,
  );
}

/** Times the workers have gone to sleep (each wake-up ends in one). */
function sleeps(workers: number[]): number {
  const of = (pid: number) =>
    Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return workers.reduce((sum, pid) => sum + of(pid), 0);
}

/**
 * Inside namespace `ns`, from one socket to 127.0.0.1:`port`: `n` copies of `q` (each its own ID)
 * sent at once, or one at a time (each after the last reply); how many were answered within `ms`.
 */
async function askIn(ns: string, port: number, q: Buffer, n: number, ms: number, oneByOne = false): Promise<number> {
  const script = `
    const s = require('node:dgram').createSocket('udp4');
    const q = Buffer.from(process.argv[1], 'hex');
    const seen = new Set();
    const send = (i) => { const b = Buffer.from(q); b.writeUInt16BE(i, 0); s.send(b, ${port}, '127.0.0.1'); };
    s.on('message', (m) => {
      seen.add(m.readUInt16BE(0));
      if (seen.size === ${n}) finish();
      else if (${oneByOne}) setTimeout(() => send(seen.size), 2); // the workers asleep again by then
    });
    s.bind(0, '127.0.0.1', () => {
      s.setRecvBufferSize(4 << 20);
      for (let i = 0; i < (${oneByOne} ? 1 : ${n}); i++) send(i);
    });
    const finish = () => { console.log(seen.size); process.exit(0); };
    setTimeout(finish, ${ms});`;
  const r = await run('ip', ['netns', 'exec', ns, process.execPath, '-e', script, q.toString('hex')], ms + 5000);
  expect(r.code, r.stderr).toBe(0);
  return Number(r.stdout.trim());
}

/** Asks 300 questions one at a time with `ask`; how often the workers woke for them. */
async function wakesFor300(workers: number[], ask: () => Promise<void>): Promise<number> {
  const before = sleeps(workers);
  await ask();
  const woke = sleeps(workers) - before;
  expect(woke).toBeGreaterThan(200); // a few replies may come back before the worker sleeps
  return woke;
}

let dns: RunningDns | undefined;
let stopped: number | undefined;
let ns: string | undefined;
afterEach(async () => {
  if (stopped) process.kill(stopped, 'SIGCONT');
  stopped = undefined;
  await dns?.stop();
  dns = undefined;
  if (ns) delNs(ns);
  ns = undefined;
});

describe.each<UdpSockets>(['shared', 'per-worker'])('the batched path, sockets %s', (udpSockets) => {
  it('answers clients while one of two workers is stopped: all on a shared socket, not all per worker', async () => {
    dns = await startDns(testConfig(tempDir('gtm-shared-'), { io: 'batched', udpSockets }), 2);
    await dns.waitLog(new RegExp(`"udpSockets":"${udpSockets}"[^\\n]*\\n[^]*"udpSockets":"${udpSockets}"`));
    await dns.waitLog(/dns worker answering[^]*dns worker answering/);
    expect(await answeredClients(dns.port)).toBe(CLIENTS);
    // The layout is in the metrics too, counted per worker.
    const metrics = metricsOf(dns);
    expect(await metrics('gtm_dns_udp_io_workers{path="batched",sockets="' + udpSockets + '"}')).toBe(2);
    // On the shared socket one worker leads and the other stands by (src/dns/udp-turns.ts).
    const readers = udpSockets === 'shared' ? 1 : 2;
    await readersReach(metrics, readers);
    const workers = workerPids(dns.proc.pid as number);
    expect(workers).toHaveLength(2);
    // Each in turn, so the one that leads the shared socket is stopped once.
    for (const pid of workers) {
      stopped = pid;
      process.kill(pid, 'SIGSTOP');
      const answered = await answeredClients(dns.port);
      // Per worker, about half the clients are hashed to the stopped one (none of 40: p = 2^-40).
      if (udpSockets === 'shared') expect(answered).toBe(CLIENTS);
      else expect(answered).toBeLessThan(CLIENTS);
      process.kill(pid, 'SIGCONT');
      stopped = undefined;
      expect(await answeredClients(dns.port)).toBe(CLIENTS);
    }
    if (udpSockets === 'per-worker') return;
    // The worker standing by joined while the leader was stopped, and stands by again after.
    expect(await metrics('gtm_dns_udp_batched_total{event="joins"}')).toBeGreaterThan(0);
    await readersReach(metrics, 1);
  }, 30_000);

  it('wakes one worker per datagram', async () => {
    dns = await startDns(testConfig(tempDir('gtm-wakes-'), { io: 'batched', udpSockets }), 2);
    await dns.waitLog(/dns worker answering[^]*dns worker answering/);
    const workers = workerPids(dns.proc.pid as number);
    const q = buildQuery('www.example.test', TYPE.A, { id: 9 });
    const port = dns.port;
    // One at a time, both workers idle for each: woken together, each would sleep again after it.
    const woke = await wakesFor300(workers, async () => {
      for (let i = 0; i < 300; i++) expect(await udpExchange(port, q, 1000)).toBeDefined();
    });
    // ~300 and the workers' timers; every idle worker woken per datagram would be ~600.
    expect(woke).toBeLessThan(450);
  }, 30_000);

  it('holds answers the socket has no room for until it has, and answers every query', async () => {
    const name = `gtsw${process.pid % 10000}`;
    addNs(name);
    ns = name;
    // Loopback at 4 Mbit/s and ~1,100-byte answers to 50-byte queries: answers wait in the queue,
    // charged to the server's send buffer, until it is full and sendmmsg says EAGAIN.
    execIn(name, 'tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '4mbit', 'burst', '4kb', 'limit', '20mb']);
    const records = [1, 2, 3, 4, 5].map((i) => `      - { name: big, type: TXT, value: "${String(i).repeat(200)}" }\n`);
    const config = testConfig(tempDir('gtm-room-'), { io: 'batched', udpSockets, records: records.join('') });
    const big = buildQuery('big.example.test', TYPE.TXT, { edns: { udpSize: 1232 } });
    dns = await startDns(config, 2, { name, host: '127.0.0.1', port: 5300 });
    await dns.waitLog(/dns worker answering[^]*dns worker answering/);
    const workers = workerPids(dns.proc.pid as number);
    expect(await askIn(name, 5300, big, 1000, 15_000)).toBe(1000);
    execIn(name, 'tc', ['qdisc', 'del', 'dev', 'lo', 'root']);
    // The workers report their counters each second.
    const metrics = metricsOf(dns, name);
    const sendWaits = () => metrics('gtm_dns_udp_batched_total{event="send_waits"}');
    await waitForValue('answers that waited for room to send', sendWaits, (n) => n > 0, 10_000, 200);
    // Reading went back to normal: the same workers answer a second burst whole, and a datagram
    // again wakes one of them.
    expect(await askIn(name, 5300, big, 1000, 10_000)).toBe(1000);
    expect(workerPids(dns.proc.pid as number)).toEqual(workers);
    const oneByOne = async () => expect(await askIn(name, 5300, big, 300, 10_000, true)).toBe(300);
    expect(await wakesFor300(workers, oneByOne)).toBeLessThan(450);
  }, 60_000);
});

it('the shared socket passes the lead on when the worker that led exits', async () => {
  dns = await startDns(testConfig(tempDir('gtm-lead-'), { io: 'batched', udpSockets: 'shared' }), 2);
  await dns.waitLog(/dns worker answering[^]*dns worker answering/);
  const metrics = metricsOf(dns);
  // Both first workers killed in turn (one of them led); the cluster starts new ones.
  for (const [i, pid] of workerPids(dns.proc.pid as number).entries()) {
    process.kill(pid, 'SIGKILL');
    expect(await answeredClients(dns.port)).toBe(CLIENTS);
    await dns.waitLog(new RegExp(`(dns worker answering[^]*){${3 + i}}`), 10_000);
  }
  expect(await answeredClients(dns.port)).toBe(CLIENTS);
  // Idle again: one worker leads (none would mean each query waits for a look), one stands by.
  await readersReach(metrics, 1);
}, 30_000);
