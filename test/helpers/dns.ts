// Test helpers: temporary configs, a real `gtm dns` process, DNS clients (kdig, dig, raw).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dns2 from 'dns2';
import { buildTestDatabases, withGeoDatabase } from '../../geodata/build-test-db.js';
import { waitFor } from './wait.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const EXAMPLE = join(ROOT, 'examples', 'three-regions.yaml');

export function tempDir(prefix = 'gtm-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * The example config with the test City database, plus `records` (YAML list items
 * inserted into the zone) and `services` (YAML appended under services:).
 */
/** The DNS server's two UDP paths (dns.io): tests of the wire run on both. */
export const UDP_PATHS = ['batched', 'dgram'] as const;

/** The batched path's two socket layouts (dns.udp_sockets). */
export type UdpSockets = 'shared' | 'per-worker';

export function testConfig(
  dir: string,
  extra: { records?: string; services?: string; io?: (typeof UDP_PATHS)[number]; udpSockets?: UdpSockets } = {},
): string {
  const { city } = buildTestDatabases(dir);
  let text = withGeoDatabase(readFileSync(EXAMPLE, 'utf8'), city);
  if (extra.io) text = text.replace(/^dns:\n/m, `dns:\n  io: ${extra.io}\n`);
  if (extra.udpSockets) text = text.replace(/^dns:\n/m, `dns:\n  udp_sockets: ${extra.udpSockets}\n`);
  text = text.replace(/metrics: 127\.0\.0\.1:9153/, 'metrics: 127.0.0.1:0');
  if (extra.records) text = text.replace('    records:\n', `    records:\n${extra.records}`);
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text + (extra.services ?? ''));
  return file;
}

/** PIDs of a `gtm dns` primary's children (its workers), from /proc. */
export function workerPids(primary: number): number[] {
  return readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
}

export async function freePort(): Promise<number> {
  // A port free for both TCP and UDP on 127.0.0.1.
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
      s.on('error', reject);
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

export interface RunningDns {
  port: number;
  proc: ChildProcess;
  log: () => string;
  /** Waits until the log matches (the child writes asynchronously: never read it just once). */
  waitLog(re: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A child's output as it arrives, and a stop that sends SIGTERM and waits for the exit. */
export function watchChild(proc: ChildProcess): { log: () => string; stop: () => Promise<void> } {
  let out = '';
  proc.stdout?.on('data', (d) => (out += d));
  proc.stderr?.on('data', (d) => (out += d));
  return {
    log: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/**
 * Starts the real CLI server (`node bin/gtm.js dns`) and waits until it listens: on 127.0.0.1 and
 * a free port, or inside a namespace the caller made (`netns`, on its address and port).
 */
export async function startDns(
  config: string,
  workers = 2,
  netns?: { name: string; host: string; port: number },
  /** A port picked before (another server's config names it). */
  fixedPort?: number,
): Promise<RunningDns> {
  const port = netns?.port ?? fixedPort ?? (await freePort());
  const args = [
    join(ROOT, 'bin', 'gtm.js'),
    'dns',
    '--config',
    config,
    '--listen',
    `${netns?.host ?? '127.0.0.1'}:${port}`,
    '--workers',
    String(workers),
  ];
  const proc = netns
    ? spawn('ip', ['netns', 'exec', netns.name, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const { log, stop } = watchChild(proc);
  const deadline = Date.now() + 15_000;
  while (!log().includes('dns server listening')) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL'); // never leave a half-started server behind
      throw new Error(`gtm dns did not start:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    proc,
    log,
    waitLog: (re, timeoutMs = 5000) => waitFor(() => re.test(log()), `gtm dns to log ${re}`, timeoutMs),
    stop,
  };
}

export function run(
  cmd: string,
  args: string[],
  timeoutMs = 10_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, env }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

/** `gtm explain --config CONFIG ARGS...` as a user runs it. */
export function gtmExplain(config: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return runGtm(['explain', '--config', config, ...args]);
}

/** `gtm ARGS...` as a user runs it. */
export function runGtm(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return run(process.execPath, [join(ROOT, 'bin', 'gtm.js'), ...args]);
}

export async function kdig(port: number, args: string[]): Promise<string> {
  const r = await run('kdig', [`@127.0.0.1`, '-p', String(port), '+retry=1', '+time=3', ...args]);
  if (r.code !== 0 && !r.stdout) throw new Error(`kdig failed: ${r.stderr}`);
  return r.stdout;
}

export async function dig(port: number, args: string[]): Promise<string> {
  const r = await run('dig', [`@127.0.0.1`, '-p', String(port), '+tries=1', '+time=3', ...args]);
  return r.stdout;
}

/** Sends one raw message over UDP and resolves with the reply (or undefined on timeout). */
export function udpExchange(port: number, msg: Uint8Array, timeoutMs = 1000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => (s.close(), resolve(undefined)), timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(msg, port, '127.0.0.1');
  });
}

/** Sends length-prefixed messages over one TCP connection and collects the replies. */
export function tcpExchange(
  port: number,
  msgs: Uint8Array[],
  expect = msgs.length,
  timeoutMs = 2000,
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const replies: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write(Buffer.concat(msgs.map((m) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]))));
    });
    const t = setTimeout(() => (sock.destroy(), resolve(replies)), timeoutMs);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        replies.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (replies.length >= expect) {
        clearTimeout(t);
        sock.destroy();
        resolve(replies);
      }
    });
    sock.on('error', reject);
  });
}

export interface Decoded {
  header: { id: number; qr: number; aa: number; tc: number; rcode: number; opcode: number };
  questions: { name: string; type: number }[];
  answers: { name: string; type: number; ttl: number; address?: string; domain?: string }[];
  authorities: { name: string; type: number; ttl: number }[];
  additionals: {
    name: string;
    type: number;
    class?: number;
    rdata?: {
      ednsCode: number;
      family?: number;
      sourcePrefixLength?: number;
      scopePrefixLength?: number;
      ip?: string;
    }[];
  }[];
}

/** Decodes with dns2's parser: an independent decoder from the server's own codec. */
export function decode(buf: Buffer): Decoded {
  return dns2.Packet.parse(buf) as unknown as Decoded;
}
