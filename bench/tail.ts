// The latency tail at half load, measured so that the load generator does not make it. dnsperf's
// own -v latencies at 50,000 QPS include the time dnsperf's threads wait for a core they share with
// the server: on 2 cores gdnsd's p99 read 2.5 ms that way. Here each server runs pinned to CPU 1
// (one worker, one UDP thread), dnsperf pinned to CPU 0 makes the load, and a second, light
// dnsperf (2,000 QPS, one socket) is the probe whose latencies are read.
import { execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { children, waitForAnswer } from './kit.js';

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
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

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

function perf(port: number, queryFile: string, args: string[]): string {
  return execFileSync(
    'taskset',
    ['-c', '0', 'dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-t', '1', ...args],
    { encoding: 'utf8', maxBuffer: 256 << 20 },
  );
}

/** The probe's latencies (ms) while `load` QPS (0: none) of the same question run beside it. */
async function probe(port: number, queryFile: string, dnsperfArgs: string[], load: number) {
  const loader =
    load > 0
      ? spawn(
          'taskset',
          ['-c', '0', 'dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', '5', '-Q'].concat(
            String(Math.round(load)),
            dnsperfArgs,
          ),
          { stdio: 'ignore' },
        )
      : undefined;
  if (loader) children.push(loader);
  const done = loader ? new Promise((r) => loader.once('exit', r)) : Promise.resolve();
  await new Promise((r) => setTimeout(r, 1000));
  const out = perf(port, queryFile, ['-l', '3', '-Q', String(PROBE_QPS), '-c', '1', '-T', '1', '-v', ...dnsperfArgs]);
  await done;
  const lat = [...out.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
  return { p50: pct(50), p99: pct(99) };
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
  const samples = new Map(
    servers.map((s) => [
      s.name,
      { qps: [] as number[], p50: [] as number[], p99: [] as number[], alone: [] as number[] },
    ]),
  );
  for (let r = 0; r < rounds; r++)
    for (const s of servers) {
      const out = perf(s.port, queryFile, ['-l', '5', '-c', '4', '-q', '200', ...dnsperfArgs]);
      const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
      const alone = await probe(s.port, queryFile, dnsperfArgs, 0);
      const beside = await probe(s.port, queryFile, dnsperfArgs, qps / 2);
      const m = samples.get(s.name) as { qps: number[]; p50: number[]; p99: number[]; alone: number[] };
      m.qps.push(qps);
      m.p50.push(beside.p50);
      m.p99.push(beside.p99);
      m.alone.push(alone.p99);
    }
  return new Map(
    [...samples].map(([name, m]) => [
      name,
      { qps: median(m.qps), p50: median(m.p50), p99: median(m.p99), aloneP99: median(m.alone) },
    ]),
  );
}
