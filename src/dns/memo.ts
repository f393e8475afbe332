// The answer memo: responses built before, by question name and a numeric query shape, so a
// repeated question costs a copy and three patches (ID, the question's 0x20 case, the ECS
// address) instead of a walk of the zone and a write of every record. A steered name keeps one
// response per selection (the regions answered, the scope and the TTL) and, for policies without
// chance (all but a weighted draw that is not sticky), the answer each client got while health
// and weights are unchanged. Bounded by names and kept by popularity (HotCache): a flood of one-off names churns
// the probation segment and never pushes out the names real users ask.
import type { Service } from '../config/index.js';
import { usesChance } from '../policy/index.js';
import { HotCache, unpooled, type CacheStats } from '../runtime/index.js';
import type { Query } from '../wire/index.js';
import type { ClientOf } from './client-locator.js';
import type { Decision } from './decider.js';

export interface QueryInfo {
  qname?: string;
  qtype?: number;
  rcode: number;
  policy?: string;
  /** The steered name's service key (the config's `services` entry), when one was answered. */
  service?: string;
  regions?: string[];
  truncated?: boolean;
  dropped?: string;
  /** Answered cheaply (TC, or dropped) because the worker's miss budget for this turn was spent. */
  overBudget?: boolean;
  /** Response rate limiting's key for the question answered (cached on memoised answers). */
  rrlQuestion?: string;
  /** A NOTIFY received (RFC 1996): accepted, or why not. */
  notify?: string;
  /** The server's metric label key for this outcome (cached on memoised answers). */
  metricKey?: string;
}

export interface Answer {
  response: Buffer;
  info: QueryInfo;
}

/** A response just built, with the one policy decision it holds (a steered name, maybe behind a CNAME chain). */
export interface Built extends Answer {
  decision?: { service: Service; family: 4 | 6; d: Decision };
  /** False: not to be kept (it holds one client's data without a decision to pick it by). */
  memo?: false;
}

export type Memo =
  | { kind: 'fixed'; answer: Answer }
  | {
      kind: 'steered';
      service: Service;
      family: 4 | 6;
      /** Policies without chance: the answer each client got, valid within one health and weight epoch. */
      byClient?: Map<ClientOf, { epoch: number; until: number; answer: Answer }>;
      bySelection: Map<string, Answer>;
    };

/**
 * Question names kept, response shapes per name (type, ECS, DO, UDP size, TCP...) and responses
 * in all: past the last, nothing new is kept until names are evicted.
 */
const MEMO_NAMES_MAX = 10_000;
const MEMO_SHAPES_MAX = 256;
const MEMO_ENTRIES_MAX = 50_000;
const MEMO_VARIANTS_MAX = 1024;

/** What of a decision reaches the wire: the pools answered, the ECS scope and the TTL. */
export function selectionKey(d: Decision): string {
  let k = `${d.ecsScope}/${d.ttl}`;
  for (const p of d.selection.pools) k += `|${p.region}`;
  return k;
}

/**
 * Everything besides the name that a response's bytes depend on, other than the ID, the
 * question's letter case, the ECS address and the policy's decision, as one number (48 bits).
 * Undefined (not memoised): a question name with escapes or a compression pointer, an odd class.
 */
export function shapeOf(q: Query, tcp: boolean, maxUdpSize: number): number | undefined {
  if (q.questionEnd !== 12 + (q.qname === '' ? 1 : q.qname.length + 2) + 4) return undefined;
  const cls = q.qclass === 1 ? 1 : q.qclass === 255 ? 2 : q.qclass === 3 ? 3 : 0;
  if (cls === 0) return undefined;
  const e = q.edns;
  // 0: TCP, 1: UDP without EDNS, else the UDP size limit (>= 512).
  const limit = tcp ? 0 : e ? Math.min(Math.max(512, e.udpSize), maxUdpSize) : 1;
  const ecs = e?.ecs ? e.ecs.family * 256 + e.ecs.sourcePrefix + 1 : 0; // < 1024
  const flags =
    (e?.cookie ? 32 : 0) | (e?.nsid ? 16 : 0) | (q.rd ? 8 : 0) | (q.cd ? 4 : 0) | (e ? 2 : 0) | (e?.dnssecOk ? 1 : 0);
  return ((q.qtype * 4 + cls) * 64 + flags) * 2 ** 26 + limit * 1024 + ecs;
}

/** A memoised response for this query: its own ID, question bytes (0x20 case), cookie and ECS address. */
export function patch(cached: Buffer, msg: Uint8Array, q: Query, echoEcs: boolean, cookie?: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(cached.length);
  cached.copy(out);
  out[0] = msg[0] as number;
  out[1] = msg[1] as number;
  for (let i = 12; i < q.questionEnd; i++) out[i] = msg[i] as number;
  // The echoed ECS option is the last thing in the message; its address is the asker's.
  const ecs = q.edns?.ecs;
  const n = ecs && echoEcs ? Math.ceil(ecs.sourcePrefix / 8) : 0;
  if (ecs && echoEcs) for (let i = 0, at = out.length - n; i < n; i++) out[at + i] = ecs.address[i] as number;
  // The cookie option's data ends just before the echoed ECS option (8 bytes and the address).
  if (cookie) out.set(cookie, out.length - (ecs && echoEcs ? 8 + n : 0) - cookie.length);
  return out;
}

export class AnswerMemo {
  private readonly names = new HotCache<string, Map<number, Memo>>(MEMO_NAMES_MAX, {
    onEvict: (_name, shapes) => (this.entries -= shapes.size),
  });
  /** Responses held, over all names and shapes. */
  private entries = 0;
  /** Responses served from the memo (tests and the bench read it). */
  hits = 0;

  get(qname: string, shape: number): Memo | undefined {
    return this.names.get(qname)?.get(shape);
  }

  clear(): void {
    this.names.clear();
    this.entries = 0;
  }

  get size(): number {
    return this.entries;
  }

  /** Hits and churn of the names kept (metrics). */
  get stats(): CacheStats {
    return this.names.stats;
  }

  /** The answer a located client got before, if health has not changed since and its TTL still holds. */
  forClient(m: Extract<Memo, { kind: 'steered' }>, who: ClientOf, epoch: number, now: number): Answer | undefined {
    const last = m.byClient?.get(who);
    return last && last.epoch === epoch && (last.until === Infinity || now < last.until) ? last.answer : undefined;
  }

  /** The response built before for this decision's selection, remembered for the client too. */
  forSelection(m: Extract<Memo, { kind: 'steered' }>, d: Decision, who: ClientOf | undefined, epoch: number) {
    const hit = m.bySelection.get(selectionKey(d));
    if (hit && who && m.byClient) {
      if (m.byClient.size >= MEMO_VARIANTS_MAX) m.byClient.clear();
      m.byClient.set(who, { epoch, until: d.ttlUntil, answer: hit });
    }
    return hit;
  }

  remember(qname: string, shape: number, built: Built): void {
    let byShape = this.names.peek(qname);
    let m = byShape?.get(shape);
    if (!byShape || !m) {
      if (this.entries >= MEMO_ENTRIES_MAX) return;
      if (!byShape) this.names.set(qname, (byShape = new Map()));
      else if (byShape.size >= MEMO_SHAPES_MAX) {
        this.entries -= byShape.size;
        byShape.clear();
      }
      this.entries++;
    }
    // Kept for long: in memory of its own, not a slice of a shared slab (src/runtime/bytes.ts).
    const answer = { response: unpooled(built.response), info: built.info };
    if (!built.decision) return void byShape.set(shape, { kind: 'fixed', answer });
    if (m?.kind !== 'steered') {
      const { service, family } = built.decision;
      const byClient = usesChance(service.policy) ? undefined : new Map();
      m = { kind: 'steered', service, family, bySelection: new Map(), byClient };
      byShape.set(shape, m);
    }
    if (m.bySelection.size >= MEMO_VARIANTS_MAX) m.bySelection.clear();
    // The key holds the TTL: a variant built while a region was unstable is never picked after.
    m.bySelection.set(selectionKey(built.decision.d), answer);
  }
}
