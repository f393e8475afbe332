// The latency tail at half load, measured so that the load generator does not make it. dnsperf's
// own -v latencies at 50,000 QPS include the time dnsperf's threads wait for a core they share with
// the server: on 2 cores gdnsd's p99 read 2.5 ms that way. Here each server runs pinned to CPU 1
// (one worker, one UDP thread), dnsperf pinned to CPU 0 makes the load, and a second, light
// dnsperf (2,000 QPS, one socket) is the probe whose latencies are read.
import { execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { children, dnsperfCommand, latenciesMs, median, percentile, waitForAnswer } from './kit.js';

export interface PinnedServer {
  name: string;
  port: number;
  /** The command that runs the server (started here under `taskset -c 1`). */
  command: string[];
}

export interface Tail {
  /** Saturation of the pinned server (median of the rounds). */
  qps: number;
  /** The probe's p50/p99 beside a load of half that (medians of the rounds). */
  p50: number;
  p99: number;
  /** The probe's p99 with no other load: the machine's floor for this server. */
  aloneP99: number;
}

const PROBE_QPS = 2000;

/** Whether this machine can pin a server and its load apart: two cores and taskset. */
export function canPin(): boolean {
  if (availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
}

/** dnsperf on CPU 0, against the server on CPU 1. */
const pinnedDnsperf = (port: number, queryFile: string, args: string[]) => [
  '-c',
  '0',
  ...dnsperfCommand(port, queryFile, args),
];

function perf(port: number, queryFile: string, args: string[]): string {
  return execFileSync('taskset', pinnedDnsperf(port, queryFile, ['-t', '1', ...args]), {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
}

/** The probe's latencies (ms) while `load` QPS (0: none) of the same question run beside it. */
async function probe(port: number, queryFile: string, dnsperfArgs: string[], load: number) {
  const loader =
    load > 0
      ? spawn('taskset', pinnedDnsperf(port, queryFile, ['-l', '5', '-Q', String(Math.round(load)), ...dnsperfArgs]), {
          stdio: 'ignore',
        })
      : undefined;
  if (loader) children.push(loader);
  const done = loader ? new Promise((r) => loader.once('exit', r)) : Promise.resolve();
  await new Promise((r) => setTimeout(r, 1000));
  const out = perf(port, queryFile, ['-l', '3', '-Q', String(PROBE_QPS), '-c', '1', '-T', '1', '-v', ...dnsperfArgs]);
  await done;
  const lat = latenciesMs(out);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/** Each server pinned to CPU 1 in turn of `rounds` interleaved rounds: its saturation, then the probe. */
export async function pinnedTail(
  servers: PinnedServer[],
  queryFile: string,
  dnsperfArgs: string[],
  rounds: number,
): Promise<Map<string, Tail>> {
  for (const s of servers) {
    const child = spawn('taskset', ['-c', '1', ...s.command], { stdio: 'ignore' });
    children.push(child);
  }
  await Promise.all(servers.map((s) => waitForAnswer(s.port)));
  const measured: Map<string, Tail[]> = new Map(servers.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++)
    for (const s of servers) {
      const out = perf(s.port, queryFile, ['-l', '5', '-c', '4', '-q', '200', ...dnsperfArgs]);
      const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
      const alone = await probe(s.port, queryFile, dnsperfArgs, 0);
      const beside = await probe(s.port, queryFile, dnsperfArgs, qps / 2);
      measured.get(s.name)?.push({ qps, p50: beside.p50, p99: beside.p99, aloneP99: alone.p99 });
    }
  const medianOf = (ts: Tail[], k: keyof Tail) => median(ts.map((t) => t[k]));
  return new Map(
    [...measured].map(([name, ts]) => [
      name,
      {
        qps: medianOf(ts, 'qps'),
        p50: medianOf(ts, 'p50'),
        p99: medianOf(ts, 'p99'),
        aloneP99: medianOf(ts, 'aloneP99'),
      },
    ]),
  );
}
