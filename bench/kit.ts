// What the DNS benchmarks share: `gtm dns` started as users run it, dnsperf, readiness by kdig,
// worker memory, and every child process stopped on exit.
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/runtime/index.js';

const ROOT = packageRoot();

export const children: ChildProcess[] = [];
/** Processes `pauseTrees` stopped and has not continued yet. */
const paused = new Set<number>();
export function cleanup(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  // A stopped process acts on SIGTERM only once continued (a bench interrupted mid-sample).
  for (const p of paused) signal(p, 'SIGCONT');
}
process.on('exit', cleanup);
process.on('SIGINT', () => (cleanup(), process.exit(130)));

export async function waitForAnswer(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const out = execFileSync(
        'kdig',
        ['@127.0.0.1', '-p', String(port), '+short', '+time=1', '+retry=0', 'static.example.test', 'A'],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      ).toString();
      if (out.includes('192.0.2.80')) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server on port ${port} never answered`);
}

/** dnsperf's command line against a server on loopback, the program first (a caller may pin it). */
export function dnsperfCommand(port: number, queryFile: string, extra: string[]): string[] {
  return ['dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', queryFile, ...extra];
}

export function dnsperf(port: number, queryFile: string, extra: string[]): string {
  const [program, ...args] = dnsperfCommand(port, queryFile, extra);
  return execFileSync(program as string, args, {
    maxBuffer: 512 << 20,
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
}

/** The per-query latencies (ms, ascending) that `dnsperf -v` prints. */
export function latenciesMs(dnsperfOutput: string): number[] {
  return [...dnsperfOutput.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)]
    .map((m) => Number(m[1]) * 1000)
    .sort((a, b) => a - b);
}

/** The p-th percentile of ascending values (NaN when there are none). */
export function percentile(ascending: number[], p: number): number {
  return ascending[Math.min(ascending.length - 1, Math.floor((p / 100) * ascending.length))] ?? NaN;
}

/** The median of the rounds (the upper one of an even count). */
export function median(xs: number[]): number {
  return percentile(
    xs.slice().sort((a, b) => a - b),
    50,
  );
}

export interface Gtm {
  child: ChildProcess;
  /** Lines of the server's JSON log, as they arrive. */
  events: string[];
}

/** The command line of `gtm dns` on loopback, the program first. */
export function gtmDnsCommand(configFile: string, port: number): string[] {
  return [
    process.execPath,
    join(ROOT, 'bin', 'gtm.js'),
    'dns',
    '--config',
    configFile,
    '--listen',
    `127.0.0.1:${port}`,
  ];
}

/** `gtm dns` as users run it, with its log kept (the reload measurement reads it). */
export function startGtm(configFile: string, port: number): Gtm {
  const [program, ...args] = gtmDnsCommand(configFile, port);
  const child = spawn(program as string, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  const gtm: Gtm = { child, events: [] };
  let rest = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    gtm.events.push(...lines);
  });
  return gtm;
}

/** Resident set (MB) of each worker of a `gtm dns` primary (its child processes). */
export function workerRss(primary: ChildProcess): number[] {
  const pid = primary.pid as number;
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return kids.map((k) => {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${k}/status`, 'utf8'))?.[1] ?? NaN);
    return Math.round(kb / 1024);
  });
}

/** A process and its descendants (a gtm primary and its workers; gdnsd and its helper). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i] as number;
    try {
      for (const t of readdirSync(`/proc/${p}/task`))
        out.push(
          ...readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
        );
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false; // exited meanwhile
  }
}

/**
 * Stops the process trees of `pids` until the returned call continues them. An idle server still
 * wakes for its timers (a gtm worker 15 to 65 times a second), on the cores the measured one
 * shares: stopped, they cost it nothing.
 */
export function pauseTrees(pids: number[]): () => void {
  const stopped = pids.flatMap((pid) => processTree(pid)).filter((p) => signal(p, 'SIGSTOP'));
  for (const p of stopped) paused.add(p);
  return () => {
    for (const p of stopped) {
      signal(p, 'SIGCONT');
      paused.delete(p);
    }
  };
}

/**
 * What the scheduler counted for a process tree, over every thread: CPU seconds (user + system;
 * schedstat is in ns), sleeps (voluntary switches: the thread waited for something) and
 * preemptions (involuntary ones: another task took the CPU from it while it ran).
 */
export interface SchedUse {
  seconds: number;
  sleeps: number;
  preempted: number;
}

export function schedUse(pid: number): SchedUse {
  const use: SchedUse = { seconds: 0, sleeps: 0, preempted: 0 };
  for (const p of processTree(pid))
    try {
      for (const t of readdirSync(`/proc/${p}/task`)) {
        const ns = Number(readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
        const status = readFileSync(`/proc/${p}/task/${t}/status`, 'utf8');
        use.seconds += ns / 1e9;
        use.sleeps += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
        use.preempted += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      }
    } catch {
      /* exited meanwhile */
    }
  return use;
}
