// UDP and TCP listeners around an Authority. Nothing a client sends can stop it: every
// handler catches, TCP frames are bounded, idle connections are closed.
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DnsMetrics } from '../observability/index.js';
import type { RrlSettings } from '../config/index.js';
import { emit } from '../contract/index.js';
import type { Authority, QueryInfo } from './authority.js';
import { QueueHold, SAMPLE_MS, Saturation, TurnBudget } from './overload.js';
import { RCODE_NAME, TYPE, TYPE_NAME } from '../wire/index.js';
import { kindOf, ResponseRateLimiter, truncatedOf } from './rrl.js';
import { addressRdata, unmapIPv4 } from '../net/index.js';
import { LogTally } from '../runtime/index.js';
import { AUTH_QUERY, AUTH_RESPONSE, dnstapFrame, type TapEvent } from './dnstap.js';
import type { DnstapWriter } from './tap-writer.js';
import { BatchedUdpSocket, batchedUdpAddon, type BatchedUdpStats } from './batched-udp.js';
import type { UdpIo, UdpSockets } from '../config/index.js';

/**
 * Whether a TCP message asks for a zone transfer (AXFR 252, IXFR 251): one question, its type
 * read past the name. A cheap look so every other TCP query is parsed once, by the answer path.
 */
function asksTransfer(msg: Buffer): boolean {
  if (msg.length < 17 || msg.readUInt16BE(4) !== 1) return false;
  let pos = 12;
  while (pos < msg.length && msg[pos] !== 0) {
    if (((msg[pos] as number) & 0xc0) !== 0) return false; // no pointers in a question name
    pos += 1 + (msg[pos] as number);
  }
  const type = pos + 2 < msg.length ? msg.readUInt16BE(pos + 1) : 0;
  return type === TYPE.AXFR || type === TYPE.IXFR;
}

/** The address a query came in on: dnstap's server address (none for a wildcard) and port. */
interface Local {
  address?: Uint8Array;
  port: number;
}

export interface ServerOptions {
  host: string;
  port: number;
  /** More addresses to answer on (`dns.listen` as a list), each with its own port. */
  also?: { host: string; port: number }[];
  tcpIdleMs: number;
  queryLogSample: number;
  logger: Logger;
  metrics?: DnsMetrics;
  /** A message begun must arrive whole within this time (default 3000 ms). */
  tcpMessageMs?: number;
  /** Open connections in all and from one address (defaults 1000 and 32). */
  maxTcpConnections?: number;
  maxTcpPerSource?: number;
  /** SO_RCVBUF for the UDP sockets (0 or absent: the kernel's default). */
  udpReceiveBuffer?: number;
  /**
   * UDP I/O: `dgram` (the default here; the config's is `auto`), `batched` (the addon, see
   * batched-udp.ts), `auto` (batched when built).
   */
  udpIo?: UdpIo;
  /** The batched path's sockets: one the workers share (default) or one per worker. */
  udpSockets?: UdpSockets;
  /** The largest UDP answer (dns.max_udp_size): the batched path's answer slot. */
  maxUdpSize?: number;
  /** Response rate limiting on UDP (undefined: off). */
  rrl?: RrlSettings;
  /** Memo misses built per turn of the event loop on UDP (0 or undefined: no limit). */
  missBudget?: number;
  /** SO_RCVBUF while the worker is saturated (0 or undefined: the full size always). */
  udpReceiveBufferSaturated?: number;
  /** dnstap: every query and its response logged to this writer (undefined: off). */
  tap?: { writer: DnstapWriter; identity: Buffer; version: Buffer };
}

/**
 * Messages answered from one TCP connection before the others (and UDP) get a turn: a client
 * pipelining thousands of queries cannot hold the event loop.
 */
const TCP_MESSAGES_PER_TURN = 8;

/** What the server tracks per TCP connection to enforce its limits. */
interface TcpConn {
  sock: net.Socket;
  source: string;
  /** When the first byte of a message still incomplete arrived (undefined: between messages). */
  partialSince?: number;
  lastActive: number;
}

/**
 * dgram resolves the destination of every send through dns.lookup, which defers to the
 * next tick even for an IP literal. Replies always go to a literal address, so answer at
 * once: measured +~10% QPS under dnsperf (see README, Speed).
 */
function literalLookup(
  address: string,
  opts: unknown,
  cb: (err: Error | null, address: string, family: number) => void,
): void {
  const callback = typeof opts === 'function' ? (opts as typeof cb) : cb;
  callback(null, address, address.includes(':') ? 6 : 4);
}

/** A dgram socket bound the way Node's cluster shares it: bound once, handed to every worker. */
function sharedUdp(host: string, port: number): { udp: dgram.Socket; bound: Promise<void> } {
  const udp = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', lookup: literalLookup });
  const bound = new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ address: host, port, exclusive: false }, () => {
      udp.off('error', reject);
      resolve();
    });
  });
  return { udp, bound };
}

export class DnsServer {
  private readonly udps: dgram.Socket[] = [];
  private readonly batched: BatchedUdpSocket[] = [];
  /** The shared sockets' dgram handles, kept open (not read) while the batched path reads them. */
  private readonly held: dgram.Socket[] = [];
  /** This Node did not expose the shared socket's descriptor: a socket per worker instead. */
  private noSharedHandle = false;
  private path?: 'batched' | 'dgram';
  private readonly tcps: net.Server[] = [];
  private readonly conns = new Set<TcpConn>();
  private readonly perSource = new Map<string, number>();
  private sweepTimer?: NodeJS.Timeout;
  /** Query counts aggregated between metric flushes: labels are costly per query. */
  private pending = new Map<string, number>();
  private flushTimer?: NodeJS.Timeout;
  private tcpSeconds?: ReturnType<DnsMetrics['answerSeconds']['labels']>;
  private rrl?: ResponseRateLimiter;
  private misses?: TurnBudget;
  private readonly load = new Saturation((saturated) => this.onLoad(saturated));
  /** Whether the UDP receive buffer is held short (see onLoad). */
  private readonly queueHold = new QueueHold();
  /** Times the worker's queue was held short: one log line a minute at most. */
  private readonly saturations = new LogTally(60_000, 1);
  private rrlLogTimer?: NodeJS.Timeout;
  /** Refused NOTIFYs per sender: one log line a minute at most. */
  private readonly refusedNotifies = new LogTally(60_000, 10_000);

  constructor(
    private readonly authority: Authority,
    private readonly opts: ServerOptions,
  ) {
    this.applyLimits(opts);
  }

  /** Takes rate limiting and the miss budget from a (re)loaded config; budgets start afresh. */
  applyLimits(limits: { rrl?: RrlSettings; missBudget?: number }): void {
    this.rrl = limits.rrl ? new ResponseRateLimiter(limits.rrl) : undefined;
    this.misses = limits.missBudget ? new TurnBudget(limits.missBudget, this.load) : undefined;
  }

  /**
   * While the worker is saturated and refusing misses (a flood of new names), and for a second
   * after, its UDP queue is held short (`dns.udp_receive_buffer_saturated`): a query queued behind
   * more work than the worker can do in a few ms only waits longer, and most of that queue is the
   * flood. A worker that is merely busy (a reload, a burst) keeps the whole buffer, so a burst is
   * still absorbed. The dgram socket is the cluster's: a flooded worker shortens it every sample,
   * one calm for a second gives it back (another still flooded shortens it again within a sample).
   */
  private onLoad(saturated: boolean): void {
    if (saturated) this.opts.metrics?.saturatedSeconds.inc(SAMPLE_MS / 1000);
    const refused = this.misses?.takeRefused() ?? 0;
    const full = this.opts.udpReceiveBuffer ?? 0;
    const short = this.opts.udpReceiveBufferSaturated ?? 0;
    if (!(full > 0 && short > 0 && short < full)) return;
    const wasShort = this.queueHold.short;
    const isShort = this.queueHold.sample(saturated, refused);
    if (isShort || wasShort) this.resizeQueues(isShort ? short : full);
    if (isShort && !wasShort) {
      const times = this.saturations.count('flooded', Date.now());
      if (times)
        emit(
          this.opts.logger,
          'dns.saturated',
          { times, refused, udpReceiveBuffer: short },
          'worker saturated by memo misses: those past the budget are answered cheaply, the UDP queue is held short',
          'warn',
        );
    }
  }

  private resizeQueues(size: number): void {
    try {
      for (const u of this.udps) u.setRecvBufferSize(size);
      for (const b of this.batched) b.resizeReceiveBuffer(size);
    } catch (err) {
      this.opts.logger.warn({ err, size }, 'could not resize the UDP receive buffer');
    }
  }

  /**
   * Listens on the first address (its port may be 0: the one bound is returned) and on each of
   * `also`, UDP and TCP on each.
   */
  async start(): Promise<{ port: number }> {
    const first = await this.listenOn(this.opts.host, this.opts.port);
    for (const a of this.opts.also ?? []) await this.listenOn(a.host, a.port);
    if (this.opts.metrics) this.flushTimer = setInterval(() => this.flushMetrics(), 1000).unref();
    this.rrlLogTimer = setInterval(() => this.logLimited(), 5000).unref();
    // Limits are ours (below), so a full server evicts the oldest idle connection first.
    this.sweepTimer = setInterval(() => this.sweep(), 250).unref();
    return { port: first };
  }

  /**
   * A burst larger than the receive buffer is dropped by the kernel before we see it: the default
   * (~212 KB) holds about 190 queries. Asked size and what the kernel gave are logged (Linux
   * reports double what it keeps for bookkeeping, and caps the ask at net.core.rmem_max).
   */
  private sizeReceiveBuffer(udp: dgram.Socket): void {
    const want = this.opts.udpReceiveBuffer ?? 0;
    if (want > 0)
      try {
        udp.setRecvBufferSize(want);
      } catch (err) {
        this.opts.logger.warn({ err, want }, 'could not size the UDP receive buffer');
      }
    this.logReceiveBuffer(udp.getRecvBufferSize(), want);
  }

  private logReceiveBuffer(got: number, want: number): void {
    const capped = want > 0 && got < want;
    this.opts.logger[capped ? 'warn' : 'info'](
      { udpReceiveBuffer: got, asked: want },
      capped
        ? 'UDP receive buffer smaller than asked: raise net.core.rmem_max (sysctl) to hold larger bursts'
        : 'UDP receive buffer sized',
    );
  }

  /**
   * The UDP path this server takes: `dgram` when asked, else the batched addon when it loads
   * (`batched` asked without it is an error: the operator wanted it), else `dgram`. Logged once.
   */
  udpPath(): 'batched' | 'dgram' {
    if (this.path) return this.path;
    const want = this.opts.udpIo ?? 'dgram';
    // The addon is loaded only when wanted: a server asked for dgram never loads native code.
    const { addon, why } = want === 'dgram' ? { addon: undefined, why: 'dns.io is dgram' } : batchedUdpAddon();
    if (want === 'batched' && !addon) throw new Error(`dns.io is batched but the addon is not there: ${why}`);
    this.path = addon ? 'batched' : 'dgram';
    // Where the kernel counts the loop's busy time (overload.ts), libuv's idle clock is not read,
    // and on this path, where a wake is a few µs, its extra poll per wake shows.
    const idleClockOff = this.path === 'batched' && Saturation.kernelCounts && addon?.stopIdleClock?.() === true;
    const sockets = this.udpSockets();
    this.opts.logger.info(
      {
        udpIo: this.path,
        asked: want,
        ...(this.path === 'batched' ? { udpSockets: sockets, idleClockOff } : {}),
        ...(this.path === 'dgram' && want !== 'dgram' ? { why } : {}),
      },
      this.path === 'batched'
        ? `UDP: batched (recvmmsg/sendmmsg, ${sockets === 'shared' ? 'one socket the workers share' : 'a socket per worker'})`
        : 'UDP: dgram',
    );
    return this.path;
  }

  /** The socket layout in use: per-worker only on the batched path asked for it. */
  udpSockets(): UdpSockets {
    const perWorker = this.opts.udpSockets === 'per-worker' || this.noSharedHandle;
    return this.path === 'batched' && perWorker ? 'per-worker' : 'shared';
  }

  /** What the batched sockets have done (summed), for metrics; undefined on the dgram path. */
  batchedStats(): BatchedUdpStats | undefined {
    if (this.path !== 'batched') return undefined;
    const sum: BatchedUdpStats = { read: 0, sent: 0, sendFailed: 0, waitedToSend: 0, joins: 0, readers: 0 };
    for (const b of this.batched) for (const [k, v] of Object.entries(b.stats())) sum[k as keyof BatchedUdpStats] += v;
    return sum;
  }

  /** One address: a UDP socket and a TCP server on the same port; returns the port bound. */
  private async listenOn(host: string, port: number): Promise<number> {
    // dnstap's response address: this socket's (none for a wildcard address).
    const local: Local = { address: host === '0.0.0.0' || host === '::' ? undefined : addressRdata(host), port };
    local.port =
      this.udpPath() === 'batched'
        ? await this.listenBatched(host, port, local)
        : await this.listenDgram(host, port, local);
    this.tcpSeconds ??= this.opts.metrics?.answerSeconds.labels('tcp');
    const tcp = net.createServer({ noDelay: true }, (sock) => this.onTcp(sock, local));
    tcp.on('error', (err) => this.opts.logger.error({ err }, 'tcp server error'));
    this.tcps.push(tcp);
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host, port: local.port, exclusive: false }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    return local.port;
  }

  /** Node's dgram: one socket the cluster shares, a callback per packet. */
  private async listenDgram(host: string, port: number, local: Local): Promise<number> {
    const { udp, bound } = sharedUdp(host, port);
    this.udps.push(udp);
    // The label child is bound once: resolving labels per observation was measurable per query.
    const udpSeconds = this.opts.metrics?.answerSeconds.labels('udp');
    udp.on('message', (msg, rinfo) => {
      const t0 = performance.now();
      const response = this.handle(msg, rinfo.address, false, rinfo.port, local);
      // No per-send callback: it costs an allocation per packet; send errors surface as
      // socket 'error' events, which are logged below.
      if (response) udp.send(response, rinfo.port, rinfo.address);
      udpSeconds?.observe((performance.now() - t0) / 1000);
    });
    udp.on('error', (err) => this.opts.logger.error({ err }, 'udp socket error'));
    await bound;
    this.sizeReceiveBuffer(udp);
    return udp.address().port;
  }

  /**
   * The batched path: the socket the workers share (or, per-worker, this worker's own on the port
   * with SO_REUSEPORT), read and answered a batch at a time. The answer time is observed per
   * query, as on the dgram path.
   */
  private async listenBatched(host: string, port: number, local: Local): Promise<number> {
    const shared = this.opts.udpSockets === 'per-worker' ? undefined : await this.sharedUdpSocket(host, port);
    const udpSeconds = this.opts.metrics?.answerSeconds.labels('udp');
    const want = this.opts.udpReceiveBuffer ?? 0;
    const sock = new BatchedUdpSocket(
      batchedUdpAddon().addon!,
      host,
      port,
      want,
      Math.max(this.opts.maxUdpSize ?? 1232, 4096),
      (msg, remote, from) => {
        const t0 = performance.now();
        const response = this.handle(msg, remote, false, from, local);
        udpSeconds?.observe((performance.now() - t0) / 1000);
        return response;
      },
      (reason) => this.opts.metrics?.dropped.inc({ reason }),
      shared ?? -1,
    );
    this.batched.push(sock);
    this.logReceiveBuffer(sock.receiveBuffer, want);
    return sock.port;
  }

  /**
   * The descriptor of the UDP socket the cluster shares on host:port, for the addon to read (it
   * reads a copy). Why shared: with a socket per worker the kernel hashes a client to one worker,
   * which then answers all of it, even while it is busy or off the CPU; on one socket whichever
   * worker is free takes the next batch (docs/dns.md, "Batched UDP"). Node's cluster binds it once
   * and hands it to each worker, a restarted one too, as it does for dgram. Node does not read it
   * (the handle's reading is stopped); the handle stays open so the cluster keeps the socket for
   * the next worker. Undefined, logged, when this Node does not expose the handle's descriptor:
   * the worker then takes a socket of its own.
   */
  private async sharedUdpSocket(host: string, port: number): Promise<number | undefined> {
    const { udp, bound } = sharedUdp(host, port);
    await bound;
    udp.on('error', (err) => this.opts.logger.error({ err }, 'udp socket error'));
    // Node's own UDP handle: not public API, so checked before use.
    const handle = (udp as unknown as { _handle?: { fd?: unknown; recvStop?: () => number } })._handle;
    if (typeof handle?.fd !== 'number' || handle.fd < 0 || typeof handle.recvStop !== 'function') {
      udp.close();
      this.noSharedHandle = true;
      this.opts.logger.warn('UDP: this Node does not expose the shared socket; each worker binds its own');
      return undefined;
    }
    handle.recvStop();
    this.held.push(udp);
    return handle.fd;
  }

  /**
   * RFC 7766 §6.2.3: bounded connections, per source and in all. Beyond the per-source limit a
   * new connection is refused at once; at the global limit the connection that has made no
   * progress the longest makes room: counted from the first byte of the message it is sitting on
   * (dripping bytes does not reset that clock: a slowloris ages like an idle connection), else
   * from its last message. A full server always admits a newcomer; nothing is left hanging.
   */
  private admit(sock: net.Socket): TcpConn | undefined {
    const source = sock.remoteAddress ?? '';
    const fromSource = this.perSource.get(source) ?? 0;
    if (fromSource >= (this.opts.maxTcpPerSource ?? 32)) return this.refuse(sock, 'per-source limit');
    if (this.conns.size >= (this.opts.maxTcpConnections ?? 1000)) {
      let victim: TcpConn | undefined;
      const since = (c: TcpConn) => c.partialSince ?? c.lastActive;
      for (const c of this.conns) if (!victim || since(c) < since(victim)) victim = c;
      if (!victim) return this.refuse(sock, 'connection limit');
      this.opts.metrics?.dropped.inc({
        reason:
          victim.partialSince === undefined
            ? 'tcp evicted (idle, at the connection limit)'
            : 'tcp evicted (stalled mid-message, at the connection limit)',
      });
      this.closeConn(victim);
    }
    const conn: TcpConn = { sock, source, lastActive: Date.now() };
    this.conns.add(conn);
    this.perSource.set(source, fromSource + 1);
    return conn;
  }

  private refuse(sock: net.Socket, why: string): undefined {
    this.opts.metrics?.dropped.inc({ reason: `tcp refused (${why})` });
    sock.destroy();
    return undefined;
  }

  private closeConn(c: TcpConn): void {
    if (!this.conns.delete(c)) return;
    const n = (this.perSource.get(c.source) ?? 1) - 1;
    if (n > 0) this.perSource.set(c.source, n);
    else this.perSource.delete(c.source);
    c.sock.destroy();
  }

  /** Closes connections whose message is overdue (a byte at a time does not keep it open). */
  private sweep(): void {
    const now = Date.now();
    const limit = this.opts.tcpMessageMs ?? 3000;
    for (const c of this.conns) {
      if (c.partialSince !== undefined && now - c.partialSince > limit) {
        this.opts.metrics?.dropped.inc({ reason: 'tcp message too slow' });
        this.closeConn(c);
      }
    }
  }

  private onTcp(sock: net.Socket, local: Local): void {
    const conn = this.admit(sock);
    if (!conn) return;
    sock.setTimeout(this.opts.tcpIdleMs, () => this.closeConn(conn));
    sock.on('error', () => this.closeConn(conn));
    sock.on('close', () => this.closeConn(conn));
    let buf = Buffer.alloc(0);
    let waiting = false;
    // Answers whole messages in the buffer (RFC 7766: several may arrive in one segment), at most
    // TCP_MESSAGES_PER_TURN before yielding: the socket is paused and the rest answered next turn.
    // The answers of one turn go out corked: one writev for what a pipelining client sent in a
    // segment, not a system call per answer.
    const drain = () => {
      sock.cork();
      try {
        answerSome();
      } finally {
        sock.uncork();
      }
    };
    const answerSome = () => {
      waiting = false;
      for (let n = 0; buf.length >= 2; n++) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        if (n === TCP_MESSAGES_PER_TURN) {
          waiting = true;
          sock.pause();
          setImmediate(() => {
            if (!this.conns.has(conn)) return;
            drain();
            if (!waiting) sock.resume();
          });
          return;
        }
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        if (asksTransfer(msg) && this.transfer(sock, msg)) continue;
        const t0 = performance.now();
        const response = this.handle(msg, sock.remoteAddress ?? '', true, sock.remotePort ?? 0, local);
        if (response) {
          const frame = Buffer.allocUnsafe(2 + response.length);
          frame.writeUInt16BE(response.length, 0);
          response.copy(frame, 2);
          sock.write(frame);
          // A client that sends but never reads would make us buffer without bound.
          if (sock.writableLength > 1 << 20) return void this.closeConn(conn);
        }
        this.tcpSeconds?.observe((performance.now() - t0) / 1000);
      }
      // The clock of the message in progress starts at its first byte.
      if (buf.length === 0) conn.partialSince = undefined;
      else conn.partialSince ??= conn.lastActive;
    };
    sock.on('data', (chunk) => {
      conn.lastActive = Date.now();
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (!waiting) drain();
    });
  }

  /** Sends a zone transfer when `msg` asks for one (true); a refusal is one message. */
  private transfer(sock: net.Socket, msg: Buffer): boolean {
    const remote = sock.remoteAddress ?? '';
    let t: ReturnType<Authority['transfer']>;
    try {
      t = this.authority.transfer(msg, remote);
    } catch (err) {
      this.opts.metrics?.errors.inc({ where: 'transfer' });
      this.opts.logger.error({ err, remote }, 'failed to build a zone transfer');
      return false;
    }
    if (!t) return false;
    for (const m of t.messages) {
      const frame = Buffer.allocUnsafe(2 + m.length);
      frame.writeUInt16BE(m.length, 0);
      m.copy(frame, 2);
      sock.write(frame);
    }
    this.opts.metrics?.transfers.inc({ result: t.outcome.startsWith('sent') ? 'sent' : 'refused' });
    emit(
      this.opts.logger,
      'zone.transfer',
      { remote, zone: t.zone, outcome: t.outcome, messages: t.messages.length },
      'zone transfer',
    );
    return true;
  }

  /**
   * Answers one message; a bug in answering is logged and counted, never fatal. On UDP the miss
   * budget applies, and the answer is charged to the asker's network by rate limiting.
   */
  private handle(msg: Buffer, remote: string, tcp: boolean, port: number, local: Local): Buffer | undefined {
    const receivedAt = this.opts.tap ? Date.now() : 0;
    let result: ReturnType<Authority['respond']>;
    try {
      result = this.authority.respond(msg, remote, tcp, tcp ? undefined : this.misses);
    } catch (err) {
      this.opts.metrics?.errors.inc({ where: 'respond' });
      this.opts.logger.error({ err, remote, bytes: msg.toString('base64') }, 'failed to answer a message');
      return undefined;
    }
    const { info } = result;
    if (result.cookie) this.opts.metrics?.cookies.inc({ result: result.cookie });
    if (info.overBudget) this.opts.metrics?.overBudget.inc({ action: info.dropped ? 'dropped' : 'truncated' });
    if (info.dropped) {
      this.opts.metrics?.dropped.inc({ reason: info.dropped });
    } else if (this.opts.metrics) {
      // Memoised answers share their info, so the label key is built once per answer.
      const key =
        (info.metricKey ??= `${TYPE_NAME[info.qtype ?? -1] ?? String(info.qtype ?? 'none')}|${RCODE_NAME[info.rcode] ?? info.rcode}|${info.policy ?? ''}|${info.regions?.join(',') ?? ''}|${info.service ?? ''}`);
      this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
      if (info.truncated) this.opts.metrics.truncated.inc();
    }
    // An accepted NOTIFY is rare and an operator's business: always logged. Refused ones say why,
    // at most once a minute per sender in each worker (anyone can send them, as often as they like).
    if (info.notify) {
      const refused = info.notify.startsWith('accepted') ? 1 : this.refusedNotifies.count(remote, Date.now());
      if (refused !== undefined)
        this.opts.logger.info(
          { remote, zone: info.qname, outcome: info.notify, ...(refused > 1 ? { refusedSinceLastLine: refused } : {}) },
          'NOTIFY received',
        );
    }
    if (this.opts.queryLogSample > 0 && Math.random() < this.opts.queryLogSample) {
      this.opts.logger.info({ remote, tcp, ...info }, 'query');
    }
    let response = result.response;
    try {
      // A valid server cookie proves the source address is not spoofed: no reflection to limit.
      if (this.rrl && !tcp && response && result.cookie !== 'valid') response = this.limit(response, remote, info);
      if (this.opts.tap) this.tapped(msg, response, remote, port, local, tcp, receivedAt, info);
    } catch (err) {
      // Rate limiting or the query log failing costs neither the answer nor the worker.
      this.opts.metrics?.errors.inc({ where: 'after-respond' });
      this.opts.logger.error({ err, remote }, 'rate limiting or dnstap failed on a message');
    }
    return response;
  }

  /** dnstap: the query, and the response sent (if any), with the steering decision as `extra`. */
  private tapped(
    query: Buffer,
    response: Buffer | undefined,
    remote: string,
    port: number,
    local: Local,
    tcp: boolean,
    at: number,
    info: QueryInfo,
  ): void {
    const tap = this.opts.tap as NonNullable<ServerOptions['tap']>;
    // One event for both frames (this runs per query): the response frame reuses it.
    const event: TapEvent = {
      type: AUTH_QUERY,
      clientAddress: addressRdata(unmapIPv4(remote)),
      clientPort: port,
      serverAddress: local.address,
      serverPort: local.port,
      tcp,
      queryTimeMs: at,
      query,
    };
    tap.writer.write(dnstapFrame(event, tap.identity, tap.version));
    if (!response) return;
    event.type = AUTH_RESPONSE;
    event.query = undefined;
    event.response = response;
    event.responseTimeMs = Date.now();
    const extra = info.policy ? `policy=${info.policy} regions=${info.regions?.join(',') ?? ''}` : undefined;
    tap.writer.write(dnstapFrame(event, tap.identity, tap.version, extra));
  }

  /** Response rate limiting: the answer, a truncated copy (slip), or nothing. */
  private limit(response: Buffer, remote: string, info: QueryInfo): Buffer | undefined {
    const kind = kindOf(response);
    // Memoised answers share their info, so the question key is built once per answer.
    const question = (info.rrlQuestion ??= `${info.qname}/${info.qtype}`);
    const verdict = (this.rrl as ResponseRateLimiter).check(remote, kind, question, Date.now());
    if (verdict === 'send') return response;
    this.opts.metrics?.rateLimited.inc({ kind, action: verdict === 'slip' ? 'slipped' : 'dropped' });
    return verdict === 'slip' ? truncatedOf(response) : undefined;
  }

  /** One line per offending network per minute at most: how many of its responses were limited. */
  private logLimited(): void {
    for (const { network, limited } of this.rrl?.dueLogs(Date.now()) ?? [])
      this.opts.logger.warn({ network, limited }, 'response rate limiting: responses to this network were limited');
  }

  flushMetrics(): void {
    const m = this.opts.metrics;
    if (!m || this.pending.size === 0) return;
    for (const [key, n] of this.pending) {
      const [qtype, rcode, policy, region, service] = key.split('|') as [string, string, string, string, string];
      m.queries.inc({ qtype, rcode, policy, region, service }, n);
    }
    this.pending = new Map();
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.rrlLogTimer) clearInterval(this.rrlLogTimer);
    this.load.stop();
    this.flushMetrics();
    clearInterval(this.sweepTimer);
    for (const c of this.conns) this.closeConn(c);
    await Promise.all([
      ...this.udps.map((u) => new Promise<void>((r) => u.close(() => r()))),
      ...this.batched.map((b) => b.close()),
      ...this.held.map((u) => new Promise<void>((r) => u.close(() => r()))),
      ...this.tcps.map((t) => new Promise<void>((r) => t.close(() => r()))),
    ]);
    await this.opts.tap?.writer.close();
  }
}
