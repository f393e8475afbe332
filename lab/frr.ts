// FRRouting (Debian's frr 8.4) as the upstream router beside BIRD: its bgpd config for the PoP
// sessions, and a client that reads routes as JSON in the shape BIRD's reads give, over bgpd's
// own vty socket (as vtysh does) so a read costs no process start.
// Each instance runs from a directory of its own (config, pid, vty sockets), never as a service.
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { chownSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BirdRoute } from '../src/bgp/index.js';
import { spawnIn } from './netns.js';
import { accepts } from './accepts.js';

export interface FrrPeer {
  name: string;
  neighbor: string;
  asn: number;
  /** The PoP's VIPs (host routes): the only prefixes accepted from it. */
  prefixes: string[];
}

/**
 * bgpd.conf for the router. What FRR needs that BIRD does not:
 * - an inbound policy on every eBGP session (`bgp ebgp-requires-policy` is on by default in 8.4:
 *   without one every route is "DENIED due to: inbound policy missing");
 * - `bgp bestpath as-path multipath-relax`, or PoPs in different ASes are never ECMP;
 * - nothing for GRACEFUL_SHUTDOWN: FRR gives a route carrying 65535:0 local-pref 0 by itself.
 * The policy accepts only the PoP's own VIPs as host routes, with a max-prefix guard.
 */
export function renderFrrBgpd(o: {
  routerId: string;
  asn: number;
  peers: FrrPeer[];
  logFile: string;
  /** Track each session with BFD (profile `pop` in bfdd.conf: see writeFrrBaseConfigs). */
  bfd?: boolean;
}): string {
  const lines = [
    'frr defaults traditional',
    `log file ${o.logFile}`,
    `router bgp ${o.asn}`,
    ` bgp router-id ${o.routerId}`,
    ' bgp bestpath as-path multipath-relax',
    ' no bgp network import-check',
  ];
  for (const p of o.peers) {
    lines.push(
      ` neighbor ${p.neighbor} remote-as ${p.asn}`,
      ` neighbor ${p.neighbor} description ${p.name}`,
      ` neighbor ${p.neighbor} timers 3 9`,
      ` neighbor ${p.neighbor} timers connect 1`,
      ...(o.bfd ? [` neighbor ${p.neighbor} bfd profile pop`] : []),
    );
  }
  for (const af of ['ipv4', 'ipv6'] as const) {
    lines.push(` address-family ${af} unicast`, '  maximum-paths 8');
    for (const p of o.peers) {
      if (af === 'ipv6') lines.push(`  neighbor ${p.neighbor} activate`);
      lines.push(`  neighbor ${p.neighbor} route-map FROM-${p.name.toUpperCase()} in`);
      lines.push(`  neighbor ${p.neighbor} maximum-prefix ${Math.max(4, p.prefixes.length * 2)}`);
    }
    lines.push(' exit-address-family');
  }
  lines.push('exit');
  for (const p of o.peers) {
    const name = p.name.toUpperCase();
    const v4 = p.prefixes.filter((x) => !x.includes(':'));
    const v6 = p.prefixes.filter((x) => x.includes(':'));
    v4.forEach((x, i) => lines.push(`ip prefix-list ${name}-V4 seq ${(i + 1) * 5} permit ${x}`));
    v6.forEach((x, i) => lines.push(`ipv6 prefix-list ${name}-V6 seq ${(i + 1) * 5} permit ${x}`));
    if (v4.length) lines.push(`route-map FROM-${name} permit 10`, ` match ip address prefix-list ${name}-V4`, 'exit');
    if (v6.length) lines.push(`route-map FROM-${name} permit 20`, ` match ipv6 address prefix-list ${name}-V6`, 'exit');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The FRR daemons of one router instance, all from `dir` (sockets, pids, logs, configs), in the
 * order they must start: zebra, then bfdd before bgpd (bgpd registers each session's BFD once
 * the session is up, and bfdd must be there to take it).
 */
export function frrDaemons(dir: string, opts: { bfd?: boolean } = {}): { name: string; cmd: string; args: string[] }[] {
  const zsock = join(dir, 'zserv.api');
  const common = (daemon: string) => ['-z', zsock, '-i', join(dir, `${daemon}.pid`), '--vty_socket', dir, '-P', '0'];
  return [
    { name: 'zebra', cmd: '/usr/lib/frr/zebra', args: ['-f', join(dir, 'zebra.conf'), ...common('zebra')] },
    ...(opts.bfd
      ? [
          {
            name: 'bfdd',
            cmd: '/usr/lib/frr/bfdd',
            args: ['-f', join(dir, 'bfdd.conf'), '--bfdctl', join(dir, 'bfdd.sock'), ...common('bfdd')],
          },
        ]
      : []),
    { name: 'bgpd', cmd: '/usr/lib/frr/bgpd', args: ['-f', join(dir, 'bgpd.conf'), ...common('bgpd')] },
  ];
}

/**
 * Starts the daemons with `spawn`, the others only once zebra accepts connections on its socket.
 * A daemon that finds no zebra retries after 10 s, then 60 s (FRR's client): started beside a
 * zebra still coming up on a busy machine, bfdd met it 9 s late, and once more than 90 s late,
 * with every BFD session down meanwhile.
 */
export async function startFrrDaemons<T>(
  dir: string,
  opts: { bfd?: boolean },
  spawn: (d: { name: string; cmd: string; args: string[] }) => T,
  timeoutMs = 20_000,
): Promise<T[]> {
  const [zebra, ...rest] = frrDaemons(dir, opts);
  const started = [spawn(zebra!)];
  const socket = join(dir, 'zserv.api');
  const end = Date.now() + timeoutMs;
  while (!(await accepts(socket))) {
    if (Date.now() > end) throw new Error(`FRR: zebra does not accept on ${socket} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return [...started, ...rest.map(spawn)];
}

/**
 * The daemons run as the frr user (zebra insists: root is not in its vty group), so their
 * directory is handed to it; the directories above it must be traversable (0711 at least).
 */
export function handToFrr(dir: string): void {
  const uid = Number(execFileSync('id', ['-u', 'frr'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'frr'], { encoding: 'utf8' }).trim());
  chownSync(dir, uid, gid);
  for (const f of readdirSync(dir)) chownSync(join(dir, f), uid, gid);
}

/** zebra's config (its log), and bfdd's with one BFD profile the PoP sessions use. */
export function writeFrrBaseConfigs(dir: string, bfd?: { intervalMs: number; multiplier: number }): void {
  writeFileSync(join(dir, 'zebra.conf'), `log file ${join(dir, 'zebra.log')}\n`);
  if (bfd)
    writeFileSync(
      join(dir, 'bfdd.conf'),
      `log file ${join(dir, 'bfdd.log')}\ndebug bfd peer\ndebug bfd network\ndebug bfd zebra\nbfd\n profile pop\n  receive-interval ${bfd.intervalMs}\n  transmit-interval ${bfd.intervalMs}\n  detect-multiplier ${bfd.multiplier}\n exit\nexit\n`,
    );
}

/**
 * One daemon's vty socket, the way vtysh speaks it: a command and a NUL byte; the output, then
 * three NUL bytes and a status byte. Commands go one at a time on one connection. Under a busy
 * machine a vtysh process per read took hundreds of ms to start; this costs a socket write.
 */
class VtySocket {
  private sock?: net.Socket;
  private buf = Buffer.alloc(0);
  private queue: { command: string; resolve: (out: string) => void; reject: (e: Error) => void }[] = [];

  constructor(private readonly path: string) {}

  run(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.queue.push({ command, resolve, reject });
      if (this.queue.length === 1) this.send();
    });
  }

  private send(): void {
    const next = this.queue[0];
    if (!next) return;
    if (!this.sock) {
      const s = net.createConnection(this.path);
      s.on('data', (d) => this.receive(d));
      s.on('error', (e) => this.fail(e));
      s.on('close', () => this.fail(new Error(`vty socket ${this.path} closed`)));
      this.sock = s;
    }
    this.sock.write(`${next.command}\0`);
  }

  private receive(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    const n = this.buf.length;
    if (n < 4 || this.buf[n - 4] !== 0 || this.buf[n - 3] !== 0 || this.buf[n - 2] !== 0) return;
    const out = this.buf.subarray(0, n - 4).toString('utf8');
    this.buf = Buffer.alloc(0);
    this.queue.shift()?.resolve(out);
    this.send();
  }

  private fail(e: Error): void {
    this.sock?.destroy();
    this.sock = undefined;
    this.buf = Buffer.alloc(0);
    for (const q of this.queue.splice(0)) q.reject(e);
  }

  close(): void {
    this.sock?.destroy();
    this.sock = undefined;
  }
}

/** Reads one FRR instance (its bgpd), in the shape BIRD's control socket gives. */
export class FrrClient {
  private vty?: VtySocket;

  constructor(
    private readonly vtyDir: string,
    private readonly names: Map<string, string>,
  ) {}

  /** One command to bgpd; its JSON. Over bgpd's vty socket, or vtysh if the socket cannot be used. */
  async vtysh<T>(command: string): Promise<T> {
    this.vty ??= new VtySocket(join(this.vtyDir, 'bgpd.vty'));
    const out = await this.vty.run(command).catch(() => this.vtyshProcess(command));
    try {
      return JSON.parse(out) as T;
    } catch (e) {
      throw new Error(`vtysh ${command}: not JSON: ${out.slice(0, 200)} (${(e as Error).message})`);
    }
  }

  private vtyshProcess(command: string): Promise<string> {
    return new Promise((resolve, reject) =>
      execFile('vtysh', ['--vty_socket', this.vtyDir, '-d', 'bgpd', '-c', command], (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
  }

  /** The paths bgpd holds for a prefix, in BIRD's shape (protocol = the peer's name). */
  async routes(prefix: string): Promise<BirdRoute[]> {
    const af = prefix.includes(':') ? 'ipv6' : 'ipv4';
    const r = await this.vtysh<FrrPrefix>(`show bgp ${af} unicast ${prefix} json`).catch(() => ({}) as FrrPrefix);
    return (r.paths ?? []).map((p) => ({
      prefix,
      protocol: this.names.get(p.peer?.peerId ?? '') ?? p.peer?.peerId ?? '?',
      best: p.bestpath?.overall === true,
      nextHop: p.nexthops?.find((n) => n.used)?.ip ?? p.nexthops?.[0]?.ip,
      // FRR leaves locPrf out at the default.
      localPref: p.locPrf ?? p.localpref ?? 100,
      med: p.metric ?? p.med,
      asPath: (p.aspath?.string ?? '').split(' ').filter(Boolean).map(Number),
      communities: p.community?.list ?? [],
    }));
  }

  /** BGP neighbor states by address ("Established", "Active", ...). */
  async sessions(): Promise<Record<string, string>> {
    const r = await this.vtysh<Record<string, { bgpState?: string }>>('show bgp neighbors json').catch(() => ({}));
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.bgpState ?? '?']));
  }

  close(): void {
    this.vty?.close();
  }
}

/** zebra and bgpd in a namespace, for tests (the lab starts the same daemons as lab processes). */
export class FrrRouter extends FrrClient {
  private constructor(
    readonly procs: ChildProcess[],
    vtyDir: string,
    names: Map<string, string>,
  ) {
    super(vtyDir, names);
  }

  /** `dir` holds the router's bgpd.conf (renderFrrBgpd); zebra's config is written beside it. */
  static async start(ns: string, dir: string, peers: FrrPeer[]): Promise<FrrRouter> {
    writeFrrBaseConfigs(dir);
    handToFrr(dir);
    const procs = await startFrrDaemons(dir, {}, (d) => spawnIn(ns, d.cmd, d.args));
    return new FrrRouter(procs, dir, new Map(peers.map((p) => [p.neighbor, p.name])));
  }
}

interface FrrPrefix {
  paths?: {
    aspath?: { string?: string };
    metric?: number;
    med?: number;
    locPrf?: number;
    localpref?: number;
    community?: { list?: string[] };
    nexthops?: { ip?: string; used?: boolean }[];
    peer?: { peerId?: string };
    bestpath?: { overall?: boolean };
  }[];
}
