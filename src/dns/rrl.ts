// Response rate limiting (RRL), as BIND, Knot and NSD define it: a UDP answer costs the asking
// network (a /24 or /56) a credit from a budget per kind of response; a network out of credit
// gets no answer, except every `slip`-th one, which goes out truncated (TC=1, no records) so a
// real resolver behind a spoofed network retries over TCP and is served. An attacker spoofing a
// victim's address thus gets the victim at most `slip`-th of the queries' bytes back, never an
// amplified answer. Pure: the caller passes the time and sends (or not) what it is told.
//
// Budgets: positive answers per network per question (name and type), so a busy resolver asking
// many names is not limited by one; NXDOMAIN, NODATA, referrals and errors per network across
// names, so random names cannot dodge the limit. A budget refills at its rate per second up to one
// second's worth, and a network that keeps flooding goes into debt down to `window` seconds' worth
// (it must stop for that long to be answered again).
import type { ResponseKind, RrlSettings } from '../config/index.js';
import { inPrefixes, ipv4Bytes, ipv6Bytes, unmapIPv4 } from '../net/index.js';

export type { ResponseKind, RrlSettings } from '../config/index.js';

export type RrlVerdict = 'send' | 'slip' | 'drop';

interface Budget {
  credit: number;
  at: number;
}

/** One log line per offending network per this period, at most. */
export const RRL_LOG_PERIOD_MS = 60_000;

/** The network a response is charged to: the address masked to the configured prefix. */
export function networkOf(remote: string, v4: number, v6: number): string {
  const addr = unmapIPv4(remote);
  if (!addr.includes(':')) {
    const b = ipv4Bytes(addr);
    const n = ((((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0) as number;
    const masked = v4 === 0 ? 0 : (n & (0xffffffff << (32 - v4))) >>> 0;
    return `${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}/${v4}`;
  }
  const b = ipv6Bytes(addr);
  let out = '';
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, v6 - i * 8));
    out += ((b[i] ?? 0) & (0xff << (8 - keep))).toString(16).padStart(2, '0');
  }
  return `${out}/${v6}`;
}

/** The kind of a response, from its header: RCODE, the AA bit and the answer count. */
export function kindOf(response: Uint8Array): ResponseKind {
  const rcode = (response[3] ?? 0) & 0x0f;
  if (rcode === 3) return 'nxdomain';
  if (rcode !== 0) return 'error';
  if ((((response[6] ?? 0) << 8) | (response[7] ?? 0)) > 0) return 'answer';
  return (response[2] ?? 0) & 0x04 ? 'nodata' : 'referral';
}

/** One network's budgets: per kind across names, and per question for positive answers. */
interface Network {
  name: string;
  exempt: boolean;
  byKind: Map<ResponseKind, Budget>;
  byQuestion: Map<string, Budget>;
}

/** Questions tracked per network (a network asking more distinct names starts over). */
const QUESTIONS_PER_NETWORK = 4096;

export class ResponseRateLimiter {
  /** Networks by name, oldest first (the table), and by asking address (a cache of the mask). */
  private networks = new Map<string, Network>();
  private sources = new Map<string, Network>();
  private slipCount = 0;
  /** Networks limited since their last log line: when that line was written and how many since. */
  private readonly offenders = new Map<string, { loggedAt: number; limited: number }>();

  constructor(private readonly s: RrlSettings) {}

  /** The network an address belongs to (made on first sight; the table drops the oldest). */
  private networkOf(remote: string): Network {
    const known = this.sources.get(remote);
    if (known && this.networks.get(known.name) === known) return known;
    const name = networkOf(remote, this.s.ipv4Prefix, this.s.ipv6Prefix);
    let n = this.networks.get(name);
    if (!n) {
      if (this.networks.size >= this.s.tableSize) this.networks.delete(this.networks.keys().next().value as string);
      n = { name, exempt: inPrefixes(this.s.exempt, remote), byKind: new Map(), byQuestion: new Map() };
      this.networks.set(name, n);
    }
    if (this.sources.size >= this.s.tableSize) this.sources.clear();
    this.sources.set(remote, n);
    return n;
  }

  /**
   * Charges one response to its network. `question` names what a positive answer answered
   * (name and type); other kinds are charged across names.
   */
  check(remote: string, kind: ResponseKind, question: string, now: number): RrlVerdict {
    const rate = this.s.perSecond[kind];
    if (!rate) return 'send';
    const n = this.networkOf(remote);
    if (n.exempt) return 'send';
    const budgets = kind === 'answer' ? n.byQuestion : n.byKind;
    const key = kind === 'answer' ? question : kind;
    let b = budgets.get(key);
    if (!b) {
      if (budgets.size >= QUESTIONS_PER_NETWORK) budgets.clear();
      b = { credit: rate, at: now };
      budgets.set(key, b);
    }
    b.credit = Math.max(-rate * this.s.windowS, Math.min(rate, b.credit + (rate * (now - b.at)) / 1000) - 1);
    b.at = now;
    if (b.credit >= 0) return 'send';
    const o = this.offenders.get(n.name);
    if (o) o.limited++;
    else {
      if (this.offenders.size >= this.s.tableSize) this.offenders.clear();
      this.offenders.set(n.name, { loggedAt: -Infinity, limited: 1 });
    }
    if (this.s.slip > 0 && ++this.slipCount >= this.s.slip) {
      this.slipCount = 0;
      return 'slip';
    }
    return 'drop';
  }

  /**
   * Networks due a log line (at most one per network per RRL_LOG_PERIOD_MS), with how many
   * responses were limited since the last one.
   */
  dueLogs(now: number): { network: string; limited: number }[] {
    const out: { network: string; limited: number }[] = [];
    for (const [network, o] of this.offenders) {
      if (o.limited === 0) {
        if (now - o.loggedAt >= RRL_LOG_PERIOD_MS) this.offenders.delete(network);
        continue;
      }
      if (now - o.loggedAt < RRL_LOG_PERIOD_MS) continue;
      out.push({ network, limited: o.limited });
      o.loggedAt = now;
      o.limited = 0;
    }
    return out;
  }
}

/**
 * A truncated copy of a response: header and question only, TC set (what a slip sends; a
 * resolver retries over TCP). Undefined if the question cannot be walked.
 */
export function truncatedOf(response: Uint8Array): Buffer | undefined {
  let at = 12;
  const questions = ((response[4] ?? 0) << 8) | (response[5] ?? 0);
  for (; questions > 0;) {
    const len = response[at];
    if (len === undefined || len > 63) return undefined;
    at += 1 + len;
    if (len === 0) {
      at += 4;
      break;
    }
  }
  if (at > response.length) return undefined;
  const out = Buffer.from(response.subarray(0, at));
  out[2] = (out[2] as number) | 0x02;
  out.fill(0, 6, 12); // no answer, authority or additional records
  return out;
}
