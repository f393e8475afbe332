// The authoritative answer: query bytes in, response bytes out, in named steps. No sockets
// here, so every wire rule is testable in-process and the same code serves UDP and TCP.
//   parse (src/wire) -> memo (memo.ts) -> lookup (lookup.ts: a typed result) -> steering for a
//   steered name (decider.ts, src/policy/steer.ts) -> write (answer-writer.ts) with signing
//   (answer-signer.ts) -> memo
import type { Config, Service, TsigKey } from '../config/index.js';
import type { RegionStatus, StoreLost } from '../contract/index.js';
import type { GeoResolver } from '../geo/index.js';
import type { RegionStateSource } from '../state/index.js';
import { dampingText } from '../state/damping.js';
import type { ZoneSigner } from '../dnssec/index.js';
import type { CacheStats } from '../runtime/index.js';
import { OPCODE, RCODE, ResponseWriter, TYPE, parseQuery, type Edns, type Query } from '../wire/index.js';
import { axfrMessages, isTransfer, soaRecord, transferRecords, transferRefusal, type TransferRR } from './transfer.js';
import { ixfrRecords, remember, requestedSerial, serialOf, zoneStep, type ZoneStep } from './ixfr.js';
import { serialAfter } from './serial-rule.js';
import { inPrefixes, unmapIPv4 } from '../net/index.js';
import { cookieFor, type CookieVerdict } from './cookies.js';
import {
  findTsig,
  signResponse,
  timeOther,
  TSIG_ERROR,
  unsignedTsigError,
  verifyRequest,
  type TsigRecord,
} from './tsig.js';
import { AnswerSigner, apexSetOf } from './answer-signer.js';
import { writeAnswer } from './answer-writer.js';
import { answerNotify } from './notify-in.js';
import { Decider, type Decision } from './decider.js';
import { lookup } from './lookup.js';
import { AnswerMemo, patch, shapeOf, type Built, type QueryInfo } from './memo.js';
import { compileZones, signersOf, withoutRecords, type CompiledZone } from './zone.js';

export type { Decision } from './decider.js';

/** Asked before each memo miss is built; false: the query gets the over-budget answer. */
export interface MissBudget {
  take(): boolean;
}
export type { QueryInfo } from './memo.js';

export class Authority {
  private zones: CompiledZone[];
  private readonly writer = new ResponseWriter();
  private readonly decider: Decider;
  private readonly memo = new AnswerMemo();
  /** Signed zones' signers. */
  private signers = new Map<CompiledZone, ZoneSigner>();
  /** Per transferable zone, the changes since this worker started (IXFR, see ixfr.ts). */
  private history = new Map<string, ZoneStep[]>();
  /** Memoised answers carry signatures: the memo is emptied at this time (refresh, key step). */
  private memoDeadline = Infinity;
  /** When the memo deadline was set (a clock earlier than this went back: see respond). */
  private memoSince = 0;
  /** What the lookup asks of the signing side. */
  private readonly signing = {
    apexSet: (zone: CompiledZone, type: number) => apexSetOf(this.signers.get(zone), type),
    signed: (zone: CompiledZone) => this.signers.has(zone),
  };

  /** `zones`: compiled once by a DNS primary for all its workers (see prepareForWorkers). */
  constructor(
    private config: Config,
    geo: GeoResolver,
    private readonly state: RegionStateSource,
    zones: CompiledZone[] = compileZones(config),
  ) {
    this.zones = zones;
    this.signers = signersOf(zones);
    this.memoDeadline = this.nextMemoDeadline(Date.now());
    this.config = withoutRecords(config);
    this.decider = new Decider(this.config, geo, state);
  }

  /** Responses served from the memo (tests and the bench read it). */
  get memoHits(): number {
    return this.memo.hits;
  }

  /** Told of an accepted NOTIFY for a zone we are a secondary of (the worker passes it on). */
  onNotify?: (zone: string, from: string) => void;

  /** Optional tracer used by `gtm explain`. */
  set onDecision(f: ((d: Decision) => void) | undefined) {
    this.decider.onDecision = f;
  }
  get onDecision(): ((d: Decision) => void) | undefined {
    return this.decider.onDecision;
  }

  /** Swaps in a new config (and geo database) atomically between two queries. */
  reload(config: Config, geo?: GeoResolver, zones: CompiledZone[] = compileZones(config)): void {
    this.config = withoutRecords(config);
    this.history = historyAfter(this.history, this.zones, zones);
    this.zones = zones;
    this.signers = signersOf(zones);
    this.memoDeadline = this.nextMemoDeadline(Date.now());
    this.decider.reload(this.config, geo);
    this.memo.clear();
  }

  statusOf(region: string, family?: 4 | 6, service?: string): RegionStatus {
    return this.decider.statusOf(region, family, service);
  }

  /** Why a name skips an up region: its pool's own health (explain). */
  poolOutOf(region: string, service: string): string | undefined {
    return this.state.get(region)?.poolsOut?.[service];
  }

  /** What flap damping says of a region now, when it damps (explain). */
  dampingOf(region: string): string | undefined {
    const rule = this.config.control?.flapDamping;
    const v = this.state.get(region);
    return rule && v ? dampingText(v, rule, Date.now()) : undefined;
  }

  /**
   * How a region's health came out when explain has more to say than its status: calculated
   * health step by step (`regions.X.health`), or why it is unknown (no agent has reported yet).
   */
  healthOf(region: string): string | undefined {
    const v = this.state.get(region);
    return v?.source === 'calculated' || v?.unknown || v?.familyOut ? v.reason : undefined;
  }

  /** The store-lost fallback in force (explain). */
  storeLost(): StoreLost | undefined {
    return this.decider.storeLost;
  }

  /** Runs the service's policy for one client (explain reads it too). */
  decide(service: Service, q: { edns?: Edns }, remoteAddress: string, family: 4 | 6): Decision {
    return this.decider.decide(service, q.edns, remoteAddress, family);
  }

  /**
   * Answers one DNS message; `tcp` lifts the UDP size limit. No response means drop. `misses`,
   * when given, is asked before an answer is built (a memo miss: lookup, writing, signing); when
   * it refuses, the query gets the cheap over-budget answer instead (see overBudget).
   */
  respond(
    msg: Uint8Array,
    remoteAddress: string,
    tcp: boolean,
    misses?: MissBudget,
  ): { response?: Buffer; info: QueryInfo; cookie?: 'valid' | 'new' } {
    let parsed = parseQuery(msg);
    if (parsed.kind === 'drop') return { info: { rcode: -1, dropped: parsed.reason } };
    // A server with no secondary zones takes no NOTIFY: NOTIMP, as before (and as gdnsd says).
    if (parsed.kind === 'notify' && !this.zones.some((z) => z.zone.secondary))
      parsed = { ...parsed, kind: 'error', opcode: OPCODE.NOTIFY, rcode: RCODE.NOTIMP };
    if (parsed.kind === 'notify') {
      const nowS = Math.floor(Date.now() / 1000);
      const n = answerNotify(
        msg,
        parsed,
        this.zones,
        this.config.dns.tsigKeys,
        remoteAddress,
        nowS,
        this.writer,
        this.config.dns.maxUdpSize,
      );
      if (n.accepted) this.onNotify?.(n.accepted, unmapIPv4(remoteAddress));
      return {
        response: n.response,
        info: { qname: parsed.qname, qtype: parsed.qtype, rcode: n.rcode, notify: n.outcome },
      };
    }
    if (parsed.kind === 'error') {
      const cookie = parsed.edns && this.cookieOf(parsed, remoteAddress);
      const answered = this.formatError(msg, parsed, cookie?.option);
      return cookie ? { ...answered, cookie: cookie.valid ? 'valid' : 'new' } : answered;
    }
    const q = parsed.query;
    const cookie = this.cookieOf(q, remoteAddress);
    const answered = this.answer(msg, q, remoteAddress, tcp, cookie?.option, misses);
    return cookie ? { ...answered, cookie: cookie.valid ? 'valid' : 'new' } : answered;
  }

  /** Our COOKIE option for a query that carries one (RFC 7873), and whether its server cookie held. */
  private cookieOf(q: { edns?: Edns }, remoteAddress: string): CookieVerdict | undefined {
    const secret = this.config.dns.cookieSecret;
    if (!q.edns?.cookie || !secret) return undefined;
    return cookieFor(secret, q.edns.cookie, unmapIPv4(remoteAddress), Math.floor(Date.now() / 1000));
  }

  private answer(
    msg: Uint8Array,
    q: Query,
    remoteAddress: string,
    tcp: boolean,
    cookie: Uint8Array | undefined,
    misses?: MissBudget,
  ): { response?: Buffer; info: QueryInfo } {
    if (this.signers.size) {
      // The memo holds signatures: past its deadline, or when the clock went back before the
      // time they were made (a step after running ahead), they are made again.
      const now = Date.now();
      if (now >= this.memoDeadline || now < this.memoSince) this.resign();
    }
    const shape = shapeOf(q, tcp, this.config.dns.maxUdpSize);
    const memo = shape === undefined ? undefined : this.memo.get(q.qname, shape);
    if (memo?.kind === 'fixed') return this.hit(memo.answer, msg, q, cookie);
    let decided: Decision | undefined;
    if (memo && !this.decider.servfailSteered) {
      // Same located client, same health as last time: the same answer (no policy run).
      const who =
        memo.byClient && !this.onDecision ? this.decider.clientOf(memo.service, q.edns, remoteAddress) : undefined;
      const last = who && this.memo.forClient(memo, who, this.decider.epoch, Date.now());
      if (last) return this.hit(last, msg, q, cookie);
      // Otherwise the policy runs (geo lookup and ordering are cached) and its selection picks
      // the bytes built for it before.
      decided = this.decider.decide(memo.service, q.edns, remoteAddress, memo.family);
      const hit = this.memo.forSelection(memo, decided, who, this.decider.epoch);
      if (hit) return this.hit(hit, msg, q, cookie);
    }
    if (misses && !misses.take()) return this.overBudget(msg, q, cookie);
    const built = this.build(msg, q, remoteAddress, tcp, cookie, decided);
    if (shape !== undefined && built.memo !== false) this.memo.remember(q.qname, shape, built);
    return { response: built.response, info: built.info };
  }

  /**
   * A zone transfer request (AXFR, or IXFR answered in AXFR form) on TCP: the messages to send,
   * or undefined when `msg` is no transfer request (it is then answered as any other).
   */
  transfer(
    msg: Buffer,
    remoteAddress: string,
    nowS = Math.floor(Date.now() / 1000),
  ): { messages: Buffer[]; zone: string; outcome: string } | undefined {
    const parsed = parseQuery(msg);
    if (parsed.kind !== 'query' || !isTransfer(parsed.query)) return undefined;
    const q = parsed.query;
    const z = this.zones.find((c) => c.zone.name === q.qname);
    const answer = (messages: Buffer[], outcome: string) => ({ messages, zone: q.qname, outcome });
    const refuse = (outcome: string) => answer([transferRefusal(msg, q, RCODE.REFUSED)], `refused: ${outcome}`);
    let tsig: TsigRecord | undefined;
    try {
      tsig = findTsig(msg);
    } catch (err) {
      return answer([transferRefusal(msg, q, RCODE.FORMERR)], `refused: malformed TSIG (${(err as Error).message})`);
    }
    if (!z) return refuse('not a zone served here');
    if (z.zone.unavailable) return answer([transferRefusal(msg, q, RCODE.SERVFAIL)], `refused: ${z.zone.unavailable}`);
    const rules = z.zone.transfer;
    if (!rules) return refuse('the zone has no transfer section');
    if (!inPrefixes(rules.allow, remoteAddress)) return refuse('not in transfer.allow');
    if (!tsig && rules.tsig.length) return refuse('the zone needs a TSIG-signed request');
    // An online-signed zone's signatures are made per answer; a transfer would need them all.
    const send = (key?: TsigKey): { messages: Buffer[]; zone: string; outcome: string } => {
      if (this.signers.has(z)) return refuse('signed zones are not transferred yet');
      const { records, what } = this.transferOf(z, msg, q);
      const messages = axfrMessages(msg, q, records);
      return answer(
        key && tsig ? signResponse(messages, key, tsig, nowS) : messages,
        `sent ${what}${key ? ` signed with ${key.name}` : ''}`,
      );
    };
    if (!tsig) return send();
    const v = verifyRequest(msg, tsig, this.config.dns.tsigKeys, nowS);
    if (!v.ok) {
      // NOTAUTH with the TSIG error: unsigned for BADKEY and BADSIG, signed with our time for BADTIME.
      const notauth = transferRefusal(msg, q, RCODE.NOTAUTH);
      const messages =
        v.error === TSIG_ERROR.BADTIME && v.key
          ? signResponse([notauth], v.key, tsig, tsig.timeSigned, v.error, timeOther(nowS))
          : [unsignedTsigError(notauth, tsig, v.error, nowS)];
      return answer(messages, `refused: TSIG ${v.why}`);
    }
    if (rules.tsig.length && !rules.tsig.includes(v.key.name))
      return answer(
        signResponse([transferRefusal(msg, q, RCODE.REFUSED)], v.key, tsig, nowS),
        `refused: key ${v.key.name} is not one of transfer.tsig`,
      );
    return send(v.key);
  }

  /** An IXFR from the kept history when it reaches back to the asker's serial, else the whole zone. */
  private transferOf(z: CompiledZone, msg: Uint8Array, q: Query): { records: TransferRR[]; what: string } {
    const serial = q.qtype === TYPE.IXFR ? requestedSerial(msg, q) : undefined;
    if (serial !== undefined) {
      const records = ixfrRecords(soaRecord(z), this.history.get(z.zone.name) ?? [], serial);
      if (records) return { records, what: `IXFR from serial ${serial}: ${records.length} records` };
    }
    const records = transferRecords(z);
    const why = serial === undefined ? '' : ` (IXFR from serial ${serial}: no history back to it, sent in AXFR form)`;
    return { records, what: `${records.length} records${why}` };
  }

  private hit(answer: { response: Buffer; info: QueryInfo }, msg: Uint8Array, q: Query, cookie?: Uint8Array) {
    this.memo.hits++;
    return { response: patch(answer.response, msg, q, this.config.dns.ecs, cookie), info: answer.info };
  }

  /** A message we understand enough to answer with an error code (FORMERR, NOTIMP, BADVERS). */
  private formatError(
    msg: Uint8Array,
    parsed: Extract<ReturnType<typeof parseQuery>, { kind: 'error' }>,
    cookie?: Uint8Array,
  ) {
    const w = this.writer;
    const flags = 0x8000 | (parsed.opcode << 11) | (parsed.rd ? 0x0100 : 0) | (parsed.rcode & 0xf);
    w.begin(msg, parsed.id, flags, parsed.questionEnd, undefined);
    // A valid ECS option is echoed with SCOPE 0: nothing in this answer depends on the client.
    const ecs = parsed.edns?.ecs && this.config.dns.ecs ? { ecs: parsed.edns.ecs, scope: 0 } : undefined;
    const nsid = parsed.edns?.nsid ? this.config.dns.nsid : undefined;
    if (parsed.edns) w.opt(this.config.dns.maxUdpSize, parsed.rcode >> 4, parsed.edns.dnssecOk, ecs, nsid, cookie);
    return { response: w.finish(), info: { rcode: parsed.rcode } };
  }

  /**
   * Past the miss budget: an empty answer with TC set (a resolver retries over TCP, where the
   * budget does not apply), or nothing. Costs a header and a question, never a lookup or a signature.
   */
  private overBudget(msg: Uint8Array, q: Query, cookie?: Uint8Array): { response?: Buffer; info: QueryInfo } {
    const info: QueryInfo = { qname: q.qname, qtype: q.qtype, rcode: 0, overBudget: true };
    if (this.config.dns.overBudget === 'drop') return { info: { ...info, dropped: 'over the miss budget' } };
    const w = this.writer;
    const flags = 0x8000 | 0x0400 | 0x0200 | (q.rd ? 0x0100 : 0) | (q.cd ? 0x0010 : 0);
    w.begin(msg, q.id, flags, q.questionEnd, q.qname);
    if (q.edns)
      w.opt(
        this.config.dns.maxUdpSize,
        0,
        q.edns.dnssecOk,
        undefined,
        q.edns.nsid ? this.config.dns.nsid : undefined,
        cookie,
      );
    return { response: w.finish(), info: { ...info, truncated: true } };
  }

  /** The caches' hits and churn: the answer memo, the client locations and the signatures. */
  cacheStats(): { cache: 'answers' | 'clients' | 'signatures'; stats: CacheStats }[] {
    const sigs = [...this.signers.values()].map((s) => s.cacheStats);
    const sum = (k: keyof CacheStats) => sigs.reduce((n, s) => n + s[k], 0);
    return [
      { cache: 'answers', stats: this.memo.stats },
      { cache: 'clients', stats: this.decider.clients.cacheStats },
      {
        cache: 'signatures',
        stats: { hits: sum('hits'), misses: sum('misses'), evictions: sum('evictions'), size: sum('size') },
      },
    ];
  }

  /** A memo miss: lookup, steering, writing and signing. */
  private build(
    msg: Uint8Array,
    q: Query,
    remoteAddress: string,
    tcp: boolean,
    cookie: Uint8Array | undefined,
    decided?: Decision,
  ): Built {
    let result = lookup(this.zones, q, this.signing);
    // The shared store lost past max_stale_s with `then: servfail`: resolvers ask another server.
    const servfail =
      this.decider.servfailSteered && 'answer' in result && result.answer.some((p) => p.kind === 'steered');
    if (servfail) result = { kind: 'unavailable' };
    const zone = 'zone' in result ? result.zone : undefined;
    const sig = zone && this.signers.get(zone);
    const signer = new AnswerSigner(this.writer, sig, sig ? Date.now() : 0, q.edns?.dnssecOk === true);
    // A decision already made for this query (memo miss) is used, not drawn again.
    const decide = (part: { service: Service; family: 4 | 6 }) =>
      decided?.service === part.service
        ? decided
        : this.decider.decide(part.service, q.edns, remoteAddress, part.family);
    const built = writeAnswer(this.writer, msg, q, result, signer, decide, {
      tcp,
      maxUdpSize: this.config.dns.maxUdpSize,
      ecs: this.config.dns.ecs,
      nsid: this.config.dns.nsid,
      cookie,
    });
    return servfail ? { ...built, memo: false } : built;
  }

  /** Signed zones: the memo (which holds signatures) lives until the next refresh or key step. */
  private nextMemoDeadline(now: number): number {
    this.memoSince = now;
    let t = Infinity;
    for (const s of this.signers.values()) t = Math.min(t, now + s.policy.refreshS * 1000, s.nextChange);
    return t;
  }

  private resign(): void {
    const now = Date.now();
    for (const s of this.signers.values()) s.tick(now);
    this.memo.clear();
    this.memoDeadline = this.nextMemoDeadline(now);
  }
}

/**
 * Each transferable zone's history after a reload: the step from the version served until now to
 * the new one. Content changed under the same serial, or a serial gone backwards, starts it over
 * (a secondary could not tell those versions apart).
 */
function historyAfter(
  history: Map<string, ZoneStep[]>,
  before: CompiledZone[],
  after: CompiledZone[],
): Map<string, ZoneStep[]> {
  const out = new Map<string, ZoneStep[]>();
  for (const z of after) {
    const old = before.find((o) => o.zone.name === z.zone.name);
    if (!z.zone.transfer || !old) continue;
    const kept = history.get(z.zone.name) ?? [];
    const step = zoneStep(transferRecords(old), transferRecords(z));
    const [from, to] = [serialOf(step.from), serialOf(step.to)];
    if (from === to) {
      if (step.deleted.length + step.added.length === 0) out.set(z.zone.name, kept);
    } else if (serialAfter(to, from)) out.set(z.zone.name, remember(kept, step));
  }
  return out;
}
