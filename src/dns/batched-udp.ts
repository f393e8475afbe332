// The batched UDP path: a socket owned by the native addon (native/udp_batch.c) that reads up to
// SLOTS queries per system call and sends their answers in one more. Why an addon: dgram costs a
// system call, a callback, an rinfo object and a Buffer per packet each way, and that, not the
// answer path, was most of a worker's CPU per query (docs/benchmarks.md, "Batched UDP").
//
// Memory shared with the addon, per socket:
//   in     SLOTS x IN_SLOT bytes    query i at i * IN_SLOT
//   out    SLOTS x outSlot bytes    answer i written at i * outSlot
//   meta   Int32 x 2 x SLOTS        [2i] query i's length, [2i+1] answer i's length (0: no answer)
//   peers  SLOTS x 20 bytes         family (4|6), truncated (1), port (BE), address
// The addon calls onBatch(n) after each read; what JS wrote to `out` and `meta` is sent when it
// returns. A query's Buffer is a view of `in`: valid only during its batch.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../runtime/index.js';
import { nextLookMs, nextTurn, standingBy, type QueueLook, type TurnState } from './udp-turns.js';

interface Addon {
  open(
    host: string,
    port: number,
    receiveBuffer: number,
    slots: number,
    inSlot: number,
    outSlot: number,
    input: ArrayBuffer,
    output: ArrayBuffer,
    meta: ArrayBuffer,
    peers: ArrayBuffer,
    onBatch: (n: number) => void,
    shared?: number,
  ): [unknown, number, number];
  close(socket: unknown): void;
  stats(socket: unknown): [number, number, number, number, number?];
  receiveBuffer(socket: unknown, bytes: number): number;
  // Taking turns on a shared socket (optional: an addon built before them has none).
  lead?(socket: unknown): boolean;
  look?(socket: unknown): [number, number];
  reading?(socket: unknown, on: boolean): boolean;
  /** Turns libuv's idle clock off for this thread's loop; whether it was on (optional, as above). */
  stopIdleClock?(): boolean;
}

/** Queries read per system call (recvmmsg's vlen). */
export const SLOTS = 32;
/** The largest query taken whole: UDP's own limit, as dgram (pages never written stay unmapped). */
export const IN_SLOT = 65_535;
const PEER_BYTES = 20;

let loaded: { addon?: Addon; why: string } | undefined;

/** The addon, when it was built at install and loads here; else why not (logged at start). */
export function batchedUdpAddon(): { addon?: Addon; why: string } {
  if (loaded) return loaded;
  const file = join(packageRoot(), 'native', 'build', 'Release', 'udp_batch.node');
  if (process.platform !== 'linux') loaded = { why: 'recvmmsg/sendmmsg are Linux only' };
  else if (!existsSync(file)) loaded = { why: `${file} was not built at install (no compiler or Node headers?)` };
  else
    try {
      loaded = { addon: createRequire(import.meta.url)(file) as Addon, why: 'built at install' };
    } catch (err) {
      loaded = { why: `${file} does not load: ${(err as Error).message}` };
    }
  return loaded;
}

/** Answers one query (a view valid only during the call); undefined sends nothing. */
export type UdpAnswer = (msg: Buffer, remote: string, port: number) => Buffer | undefined;

export interface BatchedUdpStats {
  read: number;
  sent: number;
  sendFailed: number;
  waitedToSend: number;
  /** Times a worker standing by on the shared socket began reading it (udp-turns.ts). */
  joins: number;
  /** 1 while this socket is read: always per worker; on the shared socket, the lead and helpers. */
  readers: number;
}

/**
 * A source address as dgram gives it (`rinfo.address`, libuv's inet_ntop): dotted IPv4; IPv6 with
 * the first longest run of 2+ zero groups as "::", and an IPv4-mapped (or -compatible) address
 * with its last 32 bits dotted. Limits, logs and ACLs see the same string on either path.
 */
export function peerAddress(p: Uint8Array, at: number): string {
  const dotted = (i: number) => `${p[i]}.${p[i + 1]}.${p[i + 2]}.${p[i + 3]}`;
  if (p[at] === 4) return dotted(at + 4);
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((p[at + 4 + i] as number) << 8) | (p[at + 5 + i] as number));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff)))
    return `::${bestLen === 5 ? 'ffff:' : ''}${dotted(at + 16)}`;
  const hex = (from: number, to: number) =>
    g
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(':');
  return best < 0 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLen, 8)}`;
}

export class BatchedUdpSocket {
  readonly port: number;
  /** SO_RCVBUF as the kernel reported it at open (double what it keeps for data). */
  readonly receiveBuffer: number;
  private readonly socket: unknown;
  private readonly input = new ArrayBuffer(SLOTS * IN_SLOT);
  private readonly output: ArrayBuffer;
  private readonly meta = new Int32Array(2 * SLOTS);
  private readonly peers = new Uint8Array(SLOTS * PEER_BYTES);
  /** The last source seen and its string: a resolver sends many queries in a row. */
  private lastPeer = new Uint8Array(PEER_BYTES - 2);
  private lastAddress = '';
  private closed = false;
  /** On the shared socket: this worker's turn, and when it looks at the queue next. */
  private turn?: TurnState;
  private nextLook?: NodeJS.Timeout;

  /**
   * Binds host:port (SO_REUSEPORT: each worker its own socket on the same port), or with `shared`
   * (a descriptor) reads a copy of that socket, bound elsewhere and read by others too; answers
   * every query with `answer`. `dropped` hears of what is not answered and why.
   */
  constructor(
    private readonly addon: Addon,
    host: string,
    port: number,
    receiveBuffer: number,
    private readonly outSlot: number,
    private readonly answer: UdpAnswer,
    private readonly dropped: (reason: string) => void,
    shared = -1,
  ) {
    this.output = new ArrayBuffer(SLOTS * outSlot);
    const [socket, bound, got] = addon.open(
      host,
      port,
      receiveBuffer,
      SLOTS,
      IN_SLOT,
      outSlot,
      this.input,
      this.output,
      this.meta.buffer as ArrayBuffer,
      this.peers.buffer as ArrayBuffer,
      (n) => this.onBatch(n),
      shared,
    );
    this.socket = socket;
    this.port = bound;
    this.receiveBuffer = got;
    if (shared >= 0) this.takeTurns();
  }

  /**
   * The shared socket is read by the worker that leads and by helpers while datagrams wait; the
   * others stand by (udp-turns.ts says why). Without the addon's calls for it, or on a kernel that
   * cannot show the queue, every worker reads, as before.
   */
  private takeTurns(): void {
    const { lead, look, reading } = this.addon;
    if (!lead || !look || !reading || look(this.socket)[0] < 0) return;
    if (lead(this.socket)) return; // reading since open
    this.turn = standingBy();
    reading(this.socket, false);
    this.lookAtQueue();
  }

  private lookAtQueue(): void {
    const addon = this.addon as Required<Addon>;
    if (this.closed || !this.turn) return;
    const [bytes, head] = addon.look(this.socket);
    const look: QueueLook = { bytes, head: head < 0 ? undefined : head };
    // The lead is tried for when a datagram waits unread since the last look: the worker that led
    // may have exited (a socket, a bind and a close: not worth it on every look).
    const led = look.head !== undefined && look.head === this.turn.lastHead && addon.lead(this.socket);
    const next = nextTurn(this.turn, look, performance.now(), led);
    // Stopping waits while answers are pending: the worker then helps until the next look.
    const reading = addon.reading(this.socket, next.turn !== 'stand-by');
    this.turn = reading && next.turn === 'stand-by' ? { ...next, turn: 'help' } : next;
    if (this.turn.turn !== 'lead') this.nextLook = setTimeout(() => this.lookAtQueue(), nextLookMs(look));
  }

  private onBatch(n: number): void {
    const out = new Uint8Array(this.output);
    for (let i = 0; i < n; i++) {
      const at = i * PEER_BYTES;
      if (this.peers[at + 1] === 1) {
        this.dropped(`udp query longer than ${IN_SLOT} bytes`);
        continue;
      }
      let answer: Buffer | undefined;
      try {
        const msg = Buffer.from(this.input, i * IN_SLOT, this.meta[2 * i]);
        answer = this.answer(msg, this.addressAt(at), (this.peers[at + 2]! << 8) | this.peers[at + 3]!);
      } catch {
        // The answer path logs its own failures; what escapes it is counted, and the rest of the
        // batch is still answered.
        this.dropped('udp answer failed');
        continue;
      }
      if (!answer) continue;
      if (answer.length > this.outSlot) {
        this.dropped('udp answer longer than its slot');
        continue;
      }
      out.set(answer, i * this.outSlot);
      this.meta[2 * i + 1] = answer.length;
    }
  }

  private addressAt(at: number): string {
    const len = this.peers[at] === 4 ? 8 : 20; // the family, then the address (not the flag or port)
    const p = this.peers;
    const last = this.lastPeer;
    let same = this.lastAddress !== '' && last[0] === p[at];
    for (let k = 4; same && k < len; k++) same = last[k - 2] === p[at + k];
    if (same) return this.lastAddress;
    last[0] = p[at]!;
    for (let k = 4; k < len; k++) last[k - 2] = p[at + k]!;
    this.lastAddress = peerAddress(p, at);
    return this.lastAddress;
  }

  /** Resizes SO_RCVBUF (queries already queued stay). */
  resizeReceiveBuffer(bytes: number): void {
    // An addon built before this call existed (an upgrade not yet rebuilt) keeps its size.
    if (!this.closed && typeof this.addon.receiveBuffer === 'function') this.addon.receiveBuffer(this.socket, bytes);
  }

  stats(): BatchedUdpStats {
    const [read, sent, sendFailed, waitedToSend, joins = 0] = this.addon.stats(this.socket);
    const readers = this.closed || this.turn?.turn === 'stand-by' ? 0 : 1;
    return { read, sent, sendFailed, waitedToSend, joins, readers };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.nextLook);
    this.addon.close(this.socket);
  }
}
