// The authoritative answer logic: query bytes in, response bytes out. No sockets here,
// so every wire rule is testable in-process and the same code serves UDP and TCP.
import type { Config, RegionStatus, Service } from '../config/index.js';
import { MAX_CNAME_CHAIN } from '../config/limits.js';
import { addressRdata, formatAddress } from '../net/index.js';
import type { RegionStateSource } from '../state/index.js';
import type { GeoResolver } from '../geo/index.js';
import {
  locationOnly,
  order,
  poolOf,
  select,
  type Client,
  type Ordering,
  type PolicyContext,
  type Selection,
} from '../policy/index.js';
import {
  compileZones,
  cutOf,
  findZone,
  nodeOf,
  rrsetOf,
  type CompiledZone,
  type RRset,
  type ZoneNode,
} from './zone.js';
import { RCODE, ResponseWriter, TYPE, parseQuery, type Edns, type Query } from './wire.js';
import { compactNsecRdata, TYPE_NXNAME, ZoneSigner } from '../dnssec/sign.js';
import type { ZoneKey } from '../dnssec/keys.js';

export interface QueryInfo {
  qname?: string;
  qtype?: number;
  rcode: number;
  policy?: string;
  regions?: string[];
  truncated?: boolean;
  dropped?: string;
  /** The server's metric label key for this outcome (cached on memoised answers). */
  metricKey?: string;
}

export interface Decision {
  service: Service;
  client?: Client;
  clientSource: 'ecs' | 'resolver' | 'none';
  ordering: Ordering;
  selection: Selection;
  ecsScope: number;
  /** The TTL the answer gets: the service's, or the short one while a region in it is unstable. */
  ttl: number;
  /** Until when that TTL holds without a state change (Infinity: until one). */
  ttlUntil: number;
  /** Why the TTL was shortened (explain), if it was. */
  ttlReason?: string;
}

const HINFO_RFC8482 = Buffer.from([7, ...Buffer.from('RFC8482'), 0]);
/** Cache key for clients whose location is unknown. */
const NO_LOCATION = {};
const GEO_CACHE_MAX = 100_000;
interface ClientOf {
  client?: Client;
  source: Decision['clientSource'];
}
const NO_CLIENT: ClientOf = { source: 'none' };

/** Cached orderings per service hold at most this many candidate slots in all (~64 MB). */
const ORDER_CACHE_SLOTS = 8_000_000;
const ORDER_CACHE_MAX = 100_000;

/** Memoised responses: query shapes, and per steered shape the selections seen. */
const MEMO_MAX = 10_000;
const MEMO_VARIANTS_MAX = 1024;

interface Built {
  response: Buffer;
  info: QueryInfo;
  /** The one policy decision the response holds (a steered name, maybe behind a CNAME chain). */
  decision?: { service: Service; family: 4 | 6; d: Decision };
}

type Memo =
  | { kind: 'fixed'; answer: { response: Buffer; info: QueryInfo } }
  | {
      kind: 'steered';
      service: Service;
      family: 4 | 6;
      /**
       * For policies that depend only on where the client is (not chance, not its address): the
       * answer each located client got, valid while region health has not changed since.
       */
      byClient?: Map<ClientOf, { epoch: number; until: number; answer: { response: Buffer; info: QueryInfo } }>;
      bySelection: Map<string, { response: Buffer; info: QueryInfo }>;
    };

/** The config minus the zones' record lists, which the compiled zones hold (in a fraction of the memory). */
export function withoutRecords(config: Config): Config {
  return { ...config, zones: config.zones.map((z) => ({ ...z, records: [] })) };
}

/**
 * What a DNS primary sends its workers: the config without record lists and the zones compiled
 * once (packed), in one message so the services the zones point at stay the config's own objects.
 * A worker then never holds the records as objects, not even while it loads them.
 */
export function prepareForWorkers(
  config: Config,
  keys?: Map<string, ZoneKey[]>,
): { config: Config; zones: CompiledZone[] } {
  const zones = compileZones(config, keys);
  signersOf(zones); // a zone whose keys cannot sign is refused here, in the primary
  return { config: withoutRecords(config), zones };
}

/** A signer per signed zone; throws when a zone's keys cannot sign it now. */
function signersOf(zones: CompiledZone[]): Map<CompiledZone, ZoneSigner> {
  const out = new Map<CompiledZone, ZoneSigner>();
  for (const z of zones) if (z.keys && z.zone.dnssec) out.set(z, new ZoneSigner(z.zone.name, z.keys, z.zone.dnssec));
  return out;
}

/** A shared (cached) ordering with the client's own scope; the rule is read through. */
class ScopedOrdering implements Ordering {
  constructor(
    private readonly shared: Ordering,
    readonly scope: number,
  ) {}
  get candidates(): string[] {
    return this.shared.candidates;
  }
  get complete(): (() => string[]) | undefined {
    return this.shared.complete;
  }
  get rule(): string {
    return this.shared.rule;
  }
}

/** What of a decision reaches the wire: the pools answered and the ECS scope. */
function selectionKey(d: Decision): string {
  let k = `${d.ecsScope}/${d.ttl}`;
  for (const p of d.selection.pools) k += `|${p.region}`;
  return k;
}

export class Authority {
  private zones: CompiledZone[];
  private readonly writer = new ResponseWriter();
  private readonly ctx: PolicyContext;
  /** Orderings per service and geo record (records are shared objects per database). */
  private orderCache = new Map<Service, Map<object, Ordering>>();
  private readonly regionLists = new WeakMap<Service, string[]>();
  /** Located clients per ECS subnet and per resolver address: resolvers repeat the same few. */
  private ecsClients = new Map<string | number, ClientOf>();
  private resolverClients = new Map<string | number, ClientOf>();
  /**
   * Responses built before, by query shape (see shapeOf): a repeated question costs a copy
   * and three patches instead of a walk of the zone and a write of every record.
   */
  private memo = new Map<string, Map<number, Memo>>();
  private memoSize = 0;
  /** Policy context per service (its weights), made once per config. */
  private serviceCtx = new Map<Service, PolicyContext>();
  /** Bumped on every region state change: answers remembered per client are valid within one epoch. */
  private healthEpoch = 0;
  /** Signed zones' signers; while building a DO answer in one, `sig` is its signer. */
  private signers = new Map<CompiledZone, ZoneSigner>();
  private sig?: ZoneSigner;
  private now = 0;
  /** Memoised answers carry signatures: the memo is emptied at this time (refresh, key step). */
  private memoDeadline = Infinity;
  /** Responses served from the memo (tests and the bench read it). */
  memoHits = 0;
  /** Optional tracer used by `gtm explain`. */
  onDecision?: (d: Decision) => void;

  /** `zones`: compiled once by a DNS primary for all its workers (see prepareForWorkers). */
  constructor(
    private config: Config,
    private geo: GeoResolver,
    private readonly state: RegionStateSource,
    zones: CompiledZone[] = compileZones(config),
  ) {
    this.zones = zones;
    this.signers = signersOf(zones);
    this.memoDeadline = this.nextMemoDeadline(Date.now());
    this.config = withoutRecords(config);
    state.subscribe(() => this.healthEpoch++);
    this.ctx = {
      regions: config.regions,
      weightOf: (r) => this.weightOf(r),
      random: Math.random,
    };
  }

  /** Swaps in a new config (and geo database) atomically between two queries. */
  reload(config: Config, geo?: GeoResolver, zones: CompiledZone[] = compileZones(config)): void {
    this.config = withoutRecords(config);
    this.zones = zones;
    this.signers = signersOf(zones);
    this.memoDeadline = this.nextMemoDeadline(Date.now());
    this.ctx.regions = config.regions;
    if (geo) this.geo = geo;
    this.orderCache = new Map();
    this.ecsClients = new Map();
    this.resolverClients = new Map();
    this.serviceCtx = new Map();
    this.memo = new Map();
    this.memoSize = 0;
  }

  statusOf(region: string): RegionStatus {
    return this.state.get(region)?.status ?? this.config.regions.get(region)?.status ?? 'down';
  }

  private weightOf(region: string): number {
    return this.state.get(region)?.weight ?? this.config.regions.get(region)?.weight ?? 0;
  }

  /** Answers one DNS message; `tcp` lifts the UDP size limit. No response means drop. */
  respond(msg: Uint8Array, remoteAddress: string, tcp: boolean): { response?: Buffer; info: QueryInfo } {
    const parsed = parseQuery(msg);
    if (parsed.kind === 'drop') return { info: { rcode: -1, dropped: parsed.reason } };
    const w = this.writer;
    if (parsed.kind === 'error') {
      const flags = 0x8000 | (parsed.opcode << 11) | (parsed.rd ? 0x0100 : 0) | (parsed.rcode & 0xf);
      w.begin(msg, parsed.id, flags, parsed.questionEnd, undefined);
      // A valid ECS option is echoed with SCOPE 0: nothing in this answer depends on the client.
      const ecs = parsed.edns?.ecs && this.config.dns.ecs ? { ecs: parsed.edns.ecs, scope: 0 } : undefined;
      if (parsed.edns) w.opt(this.config.dns.maxUdpSize, parsed.rcode >> 4, parsed.edns.dnssecOk, ecs);
      return { response: w.finish(), info: { rcode: parsed.rcode } };
    }
    const q = parsed.query;
    if (this.signers.size && Date.now() >= this.memoDeadline) this.resign();
    const shape = this.shapeOf(q, tcp);
    const byShape = shape === undefined ? undefined : this.memo.get(q.qname);
    const memo = byShape?.get(shape as number);
    if (memo?.kind === 'fixed')
      return (this.memoHits++, { response: this.patch(memo.answer.response, msg, q), info: memo.answer.info });
    let decided: Decision | undefined;
    if (memo) {
      // Same located client, same health as last time: the same answer (no policy run).
      const who = memo.byClient && !this.onDecision ? this.client(memo.service, q.edns, remoteAddress) : undefined;
      const last = who && memo.byClient?.get(who);
      if (last && last.epoch === this.healthEpoch && (last.until === Infinity || Date.now() < last.until))
        return (this.memoHits++, { response: this.patch(last.answer.response, msg, q), info: last.answer.info });
      // Otherwise the policy runs (geo lookup and ordering are cached) and its selection picks
      // the bytes built for it before.
      decided = this.decide(memo.service, q, remoteAddress, memo.family);
      const hit = memo.bySelection.get(selectionKey(decided));
      if (hit) {
        if (who && memo.byClient) {
          if (memo.byClient.size >= MEMO_VARIANTS_MAX) memo.byClient.clear();
          memo.byClient.set(who, { epoch: this.healthEpoch, until: decided.ttlUntil, answer: hit });
        }
        return (this.memoHits++, { response: this.patch(hit.response, msg, q), info: hit.info });
      }
    }
    const built = this.build(msg, q, remoteAddress, tcp, decided);
    if (shape !== undefined) this.remember(q.qname, shape, built);
    return { response: built.response, info: built.info };
  }

  /** Signed zones: the memo (which holds signatures) lives until the next refresh or key step. */
  private nextMemoDeadline(now: number): number {
    let t = Infinity;
    for (const s of this.signers.values()) t = Math.min(t, now + s.policy.refreshS * 1000, s.nextChange);
    return t;
  }

  private resign(): void {
    const now = Date.now();
    for (const s of this.signers.values()) s.tick(now);
    this.memo = new Map();
    this.memoSize = 0;
    this.memoDeadline = this.nextMemoDeadline(now);
  }

  /**
   * Everything besides the name that a response's bytes depend on, other than the ID, the
   * question's letter case, the ECS address and the policy's decision, as one number (48 bits).
   * Responses are memoised under name and shape; the decision, if any, picks among variants.
   * Undefined (not memoised): a question name with escapes or a compression pointer, an odd class.
   */
  private shapeOf(q: Query, tcp: boolean): number | undefined {
    if (q.questionEnd !== 12 + (q.qname === '' ? 1 : q.qname.length + 2) + 4) return undefined;
    const cls = q.qclass === 1 ? 1 : q.qclass === 255 ? 2 : q.qclass === 3 ? 3 : 0;
    if (cls === 0) return undefined;
    const e = q.edns;
    // 0: TCP, 1: UDP without EDNS, else the UDP size limit (>= 512).
    const limit = tcp ? 0 : e ? Math.min(Math.max(512, e.udpSize), this.config.dns.maxUdpSize) : 1;
    const ecs = e?.ecs ? e.ecs.family * 256 + e.ecs.sourcePrefix + 1 : 0; // < 1024
    const flags = (q.rd ? 8 : 0) | (q.cd ? 4 : 0) | (e ? 2 : 0) | (e?.dnssecOk ? 1 : 0);
    return ((q.qtype * 4 + cls) * 16 + flags) * 2 ** 26 + limit * 1024 + ecs;
  }

  /** A memoised response for this query: its own ID, question bytes (0x20 case) and ECS address. */
  private patch(cached: Buffer, msg: Uint8Array, q: Query): Buffer {
    const out = Buffer.allocUnsafe(cached.length);
    cached.copy(out);
    out[0] = msg[0] as number;
    out[1] = msg[1] as number;
    for (let i = 12; i < q.questionEnd; i++) out[i] = msg[i] as number;
    // The echoed ECS option is the last thing in the message; its address is the asker's.
    const ecs = q.edns?.ecs;
    if (ecs && this.config.dns.ecs) {
      const n = Math.ceil(ecs.sourcePrefix / 8);
      for (let i = 0, at = out.length - n; i < n; i++) out[at + i] = ecs.address[i] as number;
    }
    return out;
  }

  private remember(qname: string, shape: number, built: Built): void {
    if (this.memoSize >= MEMO_MAX) (this.memo.clear(), (this.memoSize = 0));
    let byShape = this.memo.get(qname);
    if (!byShape) this.memo.set(qname, (byShape = new Map()));
    const answer = { response: built.response, info: built.info };
    let m = byShape.get(shape);
    if (!m) this.memoSize++;
    if (!built.decision) return void byShape.set(shape, { kind: 'fixed', answer });
    if (m?.kind !== 'steered') {
      const { service, family } = built.decision;
      const byClient = locationOnly(service.policy) ? new Map() : undefined;
      m = { kind: 'steered', service, family, bySelection: new Map(), byClient };
      byShape.set(shape, m);
    }
    if (m.bySelection.size >= MEMO_VARIANTS_MAX) m.bySelection.clear();
    // The key holds the TTL: a variant built while a region was unstable is never picked after.
    m.bySelection.set(selectionKey(built.decision.d), answer);
  }

  /** Builds a response with the writer (memo miss). */
  private build(msg: Uint8Array, q: Query, remoteAddress: string, tcp: boolean, decided?: Decision): Built {
    const w = this.writer;
    let decision: Built['decision'];
    const info: QueryInfo = { qname: q.qname, qtype: q.qtype, rcode: RCODE.NOERROR };
    let aa = true;
    let rcode: number = RCODE.NOERROR;
    let ecsScope = 0;
    w.begin(msg, q.id, 0, q.questionEnd, q.qname);

    let zone =
      // QCLASS * (255) asks for any class: ours is IN (RFC 1035 §3.2.5).
      (q.qclass === 1 || q.qclass === 255) && q.qtype !== TYPE.AXFR && q.qtype !== TYPE.IXFR
        ? findZone(this.zones, q.qname)
        : undefined;
    // DS at a child's apex is the parent's data: when we serve both, the parent answers (RFC 4035 §3.1.4.1).
    if (zone && q.qtype === TYPE.DS && q.qname === zone.zone.name)
      zone =
        findZone(
          this.zones.filter((z) => z !== zone),
          q.qname,
        ) ?? zone;
    this.sig = zone && q.edns?.dnssecOk ? this.signers.get(zone) : undefined;
    this.now = this.sig ? Date.now() : 0;
    if (q.qtype === TYPE_NXNAME) {
      // A meta-type only ever seen in compact-denial bitmaps: asking for it is a format error (RFC 9824 §3.5).
      aa = false;
      rcode = RCODE.FORMERR;
    } else if (!zone) {
      aa = false;
      rcode = RCODE.REFUSED;
    } else {
      let name = q.qname;
      // The answer ends in data of the asked type, or in a CNAME we do not follow (out of
      // zone, too deep): no SOA then. Otherwise it is NODATA or NXDOMAIN, at the end of any
      // chain too, and the SOA goes in authority (RFC 2308 §2.1, §2.2).
      let answered = false;
      for (let depth = 0; ; depth++) {
        // At or below a delegation the child zone answers: a referral (RFC 1034 §4.3.2 step 3b),
        // except for DS at the cut, which is the parent's (ours) to answer (RFC 4034 §5).
        const cut = cutOf(zone, name);
        if (cut && !(q.qtype === TYPE.DS && name === cut.name)) {
          this.referral(zone, cut.name, cut.ns);
          // Not authoritative for the child's data, unless a CNAME of ours led here.
          if (depth === 0) aa = false;
          answered = true;
          break;
        }
        const node = nodeOf(zone, name);
        if (!node) {
          rcode = RCODE.NXDOMAIN;
          break;
        }
        const cname = rrsetOf(node, TYPE.CNAME);
        if (q.qtype === TYPE.ANY && cname) {
          // ANY at an alias is the alias (RFC 8482 §4.1): a HINFO there would be "CNAME and other data".
          this.rrset(1, name, cname);
          answered = true;
          break;
        }
        if (q.qtype === TYPE.ANY) {
          // RFC 8482: answer ANY minimally with one synthesized HINFO.
          w.record(1, name, TYPE.HINFO, zone.zone.soa.ttl, HINFO_RFC8482);
          this.signatures(1, name, TYPE.HINFO, zone.zone.soa.ttl, [HINFO_RFC8482]);
          answered = true;
          break;
        }
        if (cname && q.qtype !== TYPE.CNAME) {
          const target = (cname.targets as string[])[0] as string;
          this.rrset(1, name, cname);
          // Follow the chain while it stays inside this zone.
          if (depth + 1 >= MAX_CNAME_CHAIN || !(target === zone.zone.name || target.endsWith(`.${zone.zone.name}`))) {
            answered = true;
            break;
          }
          name = target;
          continue;
        }
        if (node.service && (q.qtype === TYPE.A || q.qtype === TYPE.AAAA)) {
          const family = q.qtype === TYPE.A ? 4 : 6;
          // A decision already made for this query (memo miss) is used, not drawn again.
          const d = decided?.service === node.service ? decided : this.decide(node.service, q, remoteAddress, family);
          decision = { service: node.service, family, d };
          info.policy = node.service.policy.kind;
          info.regions = d.selection.pools.map((p) => p.region);
          ecsScope = d.ecsScope;
          const written: Uint8Array[] = [];
          for (const p of d.selection.pools) {
            const addr = q.qtype === TYPE.A ? p.vip4 : p.vip6;
            if (addr) {
              const rd = addressRdata(addr);
              w.record(1, name, q.qtype, d.ttl, rd);
              written.push(rd);
              answered = true;
            }
          }
          // The client's own address set is signed as one RRset (cached by content, see ZoneSigner).
          if (written.length) this.signatures(1, name, q.qtype, d.ttl, written);
          break;
        }
        const set = rrsetOf(node, q.qtype) ?? (name === zone.zone.name ? this.apexSet(zone, q.qtype) : undefined);
        if (set) {
          answered = true;
          this.rrset(1, name, set);
          if (set.type === TYPE.NS) this.glue(zone, set.targets as string[]);
        }
        break;
      }
      // NXDOMAIN or NODATA: the SOA goes in authority with the negative TTL (RFC 2308). Signed,
      // the denial is compact (RFC 9824): an NSEC at the name itself, and a name that does not
      // exist is answered NOERROR with NXNAME in its bitmap.
      if (!answered || rcode === RCODE.NXDOMAIN) {
        w.composite(2, zone.zone.name, TYPE.SOA, zone.negativeTtl, zone.soa.pre, zone.soa.names, zone.soa.post);
        this.denial(zone, name, rcode === RCODE.NXDOMAIN ? undefined : nodeOf(zone, name), q.qtype);
        if (this.sig && rcode === RCODE.NXDOMAIN) rcode = RCODE.NOERROR;
      }
    }

    info.rcode = rcode;
    const flags = 0x8000 | (aa ? 0x0400 : 0) | (q.rd ? 0x0100 : 0) | (q.cd ? 0x0010 : 0) | rcode;
    w.setFlags(flags);
    const edns = q.edns;
    // SOURCE PREFIX-LENGTH 0 (the client asks for no tailoring) is answered with SCOPE 0 (RFC 7871 §7.1.2).
    const ecsEcho =
      edns?.ecs && this.config.dns.ecs
        ? { ecs: edns.ecs, scope: edns.ecs.sourcePrefix === 0 ? 0 : ecsScope }
        : undefined;
    if (edns) w.opt(this.config.dns.maxUdpSize, 0, edns.dnssecOk, ecsEcho);
    if (!tcp) {
      const limit = edns ? Math.min(Math.max(512, edns.udpSize), this.config.dns.maxUdpSize) : 512;
      if (w.length > limit) {
        // Too large for UDP: send header and question with TC so the client retries on TCP.
        w.truncateTo(q.questionEnd);
        w.setFlags(flags | 0x0200);
        if (edns) w.opt(this.config.dns.maxUdpSize, 0, edns.dnssecOk, ecsEcho);
        info.truncated = true;
      }
    }
    return { response: w.finish(), info, decision };
  }

  /** Writes one RRset, compressing the names in its RDATA where the type allows it; signed in a DO answer. */
  private rrset(section: 1 | 2 | 3, owner: string, set: RRset, signed = true): void {
    const w = this.writer;
    if (set.parts) for (const p of set.parts) w.composite(section, owner, set.type, set.ttl, p.pre, p.names, p.post);
    else for (const rd of set.rdata) w.record(section, owner, set.type, set.ttl, rd);
    if (signed && section !== 3) this.signatures(section, owner, set.type, set.ttl, set.rdata);
  }

  /** The RRSIGs over an RRset just written, when this is a DO answer from a signed zone. */
  private signatures(section: 1 | 2, owner: string, type: number, ttl: number, rdatas: Uint8Array[]): void {
    if (!this.sig) return;
    for (const rd of this.sig.sign(owner, type, ttl, rdatas, this.now))
      this.writer.record(section, owner, TYPE.RRSIG, ttl, rd);
  }

  /**
   * After the SOA of a negative answer, in a DO answer: the SOA's signatures and the compact NSEC
   * of `name`, whose bitmap lists what the name holds (never the asked type), or NXNAME when
   * there is no such name (node undefined).
   */
  private denial(zone: CompiledZone, name: string, node: ZoneNode | undefined, qtype: number): void {
    if (!this.sig) return;
    const soa = rrsetOf(nodeOf(zone, zone.zone.name) as ZoneNode, TYPE.SOA) as RRset;
    this.signatures(2, zone.zone.name, TYPE.SOA, zone.negativeTtl, soa.rdata);
    this.nsec(zone, name, node ? this.typesAt(zone, name, node).filter((t) => t !== qtype) : [TYPE_NXNAME]);
  }

  /** The compact NSEC of `name` (RFC 9824) in authority, with its signatures. */
  private nsec(zone: CompiledZone, name: string, types: number[]): void {
    const rdata = compactNsecRdata(name, types);
    this.writer.record(2, name, TYPE.NSEC, zone.negativeTtl, rdata);
    this.signatures(2, name, TYPE.NSEC, zone.negativeTtl, [rdata]);
  }

  /** The types a name holds, for an NSEC bitmap (RRSIG and NSEC are added by the bitmap). */
  private typesAt(zone: CompiledZone, name: string, node: ZoneNode): number[] {
    const types = node.sets.map((s) => s.type);
    if (node.service) {
      if (node.service.pools.some((p) => p.vip4)) types.push(TYPE.A);
      if (node.service.pools.some((p) => p.vip6)) types.push(TYPE.AAAA);
    }
    const signer = this.signers.get(zone);
    if (signer && name === zone.zone.name) types.push(...signer.apexTypes());
    return types;
  }

  /** DNSKEY, CDS and CDNSKEY at a signed zone's apex (to any query, DO or not). */
  private apexSet(zone: CompiledZone, type: number): RRset | undefined {
    const signer = this.signers.get(zone);
    const rdata = signer?.apexSet(type);
    return rdata && { type, ttl: signer?.policy.dnskeyTtl ?? 0, rdata };
  }

  /**
   * A referral: the cut's NS set in authority (never signed: the child's data), then in a DO
   * answer the signed DS set, or an NSEC proving there is none (an insecure delegation), then
   * addresses of its name servers we hold in additional.
   */
  private referral(zone: CompiledZone, cut: string, ns: RRset): void {
    this.rrset(2, cut, ns, false);
    if (this.sig) {
      const node = nodeOf(zone, cut) as ZoneNode;
      const ds = rrsetOf(node, TYPE.DS);
      if (ds) this.rrset(2, cut, ds);
      else this.nsec(zone, cut, this.typesAt(zone, cut, node));
    }
    this.glue(zone, ns.targets as string[]);
  }

  private glue(zone: CompiledZone, targets: string[]): void {
    for (const t of targets) {
      const n = nodeOf(zone, t);
      if (!n) continue;
      for (const type of [TYPE.A, TYPE.AAAA]) {
        const set = rrsetOf(n, type);
        if (set) for (const rd of set.rdata) this.writer.record(3, t, type, set.ttl, rd);
      }
    }
  }

  /** Runs the service's policy for one client: ordering, health filter, ECS scope. */
  decide(service: Service, q: Pick<Query, 'edns'>, remoteAddress: string, family: 4 | 6): Decision {
    const { client, source } = this.client(service, q.edns, remoteAddress);
    const ordering = this.order(service, client);
    const selection = select(service, ordering.candidates, family, (r) => this.statusOf(r), ordering.complete);
    const maxScope = client?.family === 6 ? this.config.dns.maxScope6 : this.config.dns.maxScope4;
    const d: Decision = {
      service,
      client,
      clientSource: source,
      ordering,
      selection,
      ecsScope: Math.min(ordering.scope, maxScope),
      ...this.ttlOf(service, selection),
    };
    this.onDecision?.(d);
    return d;
  }

  /**
   * TTL follows the routing state: while a region in the answer is draining, held in by the
   * guard rail or changed state recently, resolvers should come back soon (dns.unstable_ttl).
   */
  private ttlOf(service: Service, selection: Selection): Pick<Decision, 'ttl' | 'ttlUntil' | 'ttlReason'> {
    const { unstableTtl, unstableWindowS } = this.config.dns;
    if (unstableWindowS === 0 || unstableTtl >= service.ttl) return { ttl: service.ttl, ttlUntil: Infinity };
    let until = Infinity;
    let reason: string | undefined;
    const now = Date.now();
    for (const p of selection.pools) {
      const v = this.state.get(p.region);
      if (!v) continue;
      if (v.held || v.status === 'draining')
        return {
          ttl: unstableTtl,
          ttlUntil: Infinity,
          ttlReason: `${p.region} is ${v.held ? 'held in by the guard rail' : 'draining'}`,
        };
      const end = (v.flappedAt ?? -Infinity) + unstableWindowS * 1000;
      if (end > now && end < until) {
        until = end;
        reason = `${p.region} changed state ${Math.round((now - (v.flappedAt as number)) / 1000)} s ago`;
      }
    }
    return until === Infinity
      ? { ttl: service.ttl, ttlUntil: Infinity }
      : { ttl: unstableTtl, ttlUntil: until, ttlReason: reason };
  }

  private order(service: Service, client: Client | undefined): Ordering {
    if (!locationOnly(service.policy))
      return order(service.policy, this.poolRegions(service), client, this.ctxFor(service));
    let perService = this.orderCache.get(service);
    if (!perService) {
      perService = new Map();
      this.orderCache.set(service, perService);
    }
    const key = client?.location ?? NO_LOCATION;
    let o = perService.get(key);
    if (!o) {
      o = order(service.policy, this.poolRegions(service), client, this.ctxFor(service));
      // Bounded by memory, not count: with city data there is an ordering per city (a long
      // ordering is truncated to its head, see nearest.ts, but other policies' are whole).
      const cap = Math.min(ORDER_CACHE_MAX, Math.floor(ORDER_CACHE_SLOTS / Math.max(1, o.candidates.length)));
      if (perService.size >= cap) perService.clear();
      perService.set(key, o);
    }
    // The ordering is shared; the scope is the client's own database network.
    if (o.scope === 0 || !client || o.scope === client.geoPrefix) return o;
    return new ScopedOrdering(o, client.geoPrefix);
  }

  /** The service's pool regions as one array per service (policies cache by its identity). */
  private poolRegions(service: Service): string[] {
    let r = this.regionLists.get(service);
    if (!r) this.regionLists.set(service, (r = service.pools.map((p) => p.region)));
    return r;
  }

  /** Remembers a located client (the caches are bounded: full, they start over). */
  private keep(cache: Map<string | number, ClientOf>, key: string | number, c: ClientOf): ClientOf {
    if (cache.size >= GEO_CACHE_MAX) cache.clear();
    cache.set(key, c);
    return c;
  }

  /** Weight order: operator weight for this name, operator weight for the region, pool weight. */
  private ctxFor(service: Service): PolicyContext {
    let c = this.serviceCtx.get(service);
    if (!c) {
      c = {
        ...this.ctx,
        weightOf: (r) =>
          this.state.serviceWeight(service.key, r) ?? this.state.get(r)?.weight ?? poolOf(service, r)?.weight ?? 0,
      };
      this.serviceCtx.set(service, c);
    }
    return c;
  }

  /** Who the answer is for: the ECS subnet if the service uses it, else the resolver. */
  private client(service: Service, edns: Edns | undefined, remoteAddress: string): ClientOf {
    const ecs = edns?.ecs;
    if (ecs && ecs.sourcePrefix > 0 && service.ecs && this.config.dns.ecs) {
      const a = ecs.address;
      // The address is padded and zero past the prefix: equal keys are equal client addresses.
      const key =
        ecs.family === 1
          ? (((a[0] as number) << 24) | ((a[1] as number) << 16) | ((a[2] as number) << 8) | (a[3] as number)) >>> 0
          : formatAddress(a);
      const known = this.ecsClients.get(key);
      if (known) return known;
      const geo = this.geo.lookup(formatAddress(a));
      return this.keep(this.ecsClients, key, {
        client: {
          address: a.slice(),
          family: ecs.family === 1 ? 4 : 6,
          location: geo.location,
          geoPrefix: geo.prefixLen,
        },
        source: 'ecs',
      });
    }
    if (!remoteAddress) return NO_CLIENT;
    const known = this.resolverClients.get(remoteAddress);
    if (known) return known;
    const addr =
      remoteAddress.startsWith('::ffff:') && remoteAddress.includes('.') ? remoteAddress.slice(7) : remoteAddress;
    const geo = this.geo.lookup(addr);
    return this.keep(this.resolverClients, remoteAddress, {
      client: {
        address: addressRdata(addr),
        family: addr.includes(':') ? 6 : 4,
        location: geo.location,
        geoPrefix: geo.prefixLen,
      },
      source: 'resolver',
    });
  }
}
