// The writing step of an answer: a lookup result (lookup.ts) and, for a steered name, the
// decision (decider.ts) become response bytes: sections in order, names compressed, the SOA and
// denial of a negative answer, glue, the OPT with the ECS scope, and TC when it does not fit the
// client's UDP size. Signatures come from the signing step (answer-signer.ts) as sets are written.
import { addressRdata } from '../net/index.js';
import { RCODE, TYPE, addressHints, encodeName, svcbWire, type Query, type ResponseWriter } from '../wire/index.js';
import type { AnswerSigner } from './answer-signer.js';
import type { Decision } from './decider.js';
import type { AnswerPart, Lookup } from './lookup.js';
import type { Built, QueryInfo } from './memo.js';
import { nodeOf, rrsetOf, type CompiledZone, type RRset } from './zone.js';

const HINFO_RFC8482 = Buffer.from([7, ...Buffer.from('RFC8482'), 0]);

export interface WriteOptions {
  tcp: boolean;
  maxUdpSize: number;
  /** ECS is honoured (dns.ecs): a valid option is echoed with the answer's scope. */
  ecs: boolean;
  /** This server's identifier, sent to a query that asks for it (RFC 5001). */
  nsid?: Uint8Array;
  /** The COOKIE option for this client (RFC 7873), when its query carried one. */
  cookie?: Uint8Array;
}

/** Writes the response to `q` for a lookup result; `decide` runs the policy of a steered name. */
export function writeAnswer(
  w: ResponseWriter,
  msg: Uint8Array,
  q: Query,
  result: Lookup,
  sign: AnswerSigner,
  decide: (part: Extract<AnswerPart, { kind: 'steered' }>) => Decision,
  opts: WriteOptions,
): Built {
  const info: QueryInfo = { qname: q.qname, qtype: q.qtype, rcode: RCODE.NOERROR };
  let decision: Built['decision'];
  let rcode: number = RCODE.NOERROR;
  let aa = true;
  let ecsScope = 0;
  let memo = true;
  w.begin(msg, q.id, 0, q.questionEnd, q.qname);
  if (result.kind === 'refused' || result.kind === 'formerr' || result.kind === 'unavailable') {
    aa = false;
    rcode = { refused: RCODE.REFUSED, formerr: RCODE.FORMERR, unavailable: RCODE.SERVFAIL }[result.kind];
  } else {
    for (const part of result.answer) {
      if (part.kind === 'rrset') writeSet(w, sign, 1, part.owner, part.set);
      else if (part.kind === 'hinfo') {
        // RFC 8482: ANY answered minimally with one synthesized HINFO.
        w.record(1, part.owner, TYPE.HINFO, part.ttl, HINFO_RFC8482);
        sign.rrsig(1, part.owner, TYPE.HINFO, part.ttl, [HINFO_RFC8482]);
      } else {
        const d = decide(part);
        decision = { service: part.service, family: part.family, d };
        info.policy = part.service.policy.kind;
        info.service = part.service.key;
        info.regions = d.selection.pools.map((p) => p.region);
        ecsScope = d.ecsScope;
        const alias = d.selection.pools[0]?.cname;
        if (alias) {
          // An alias pool: the CNAME alone, which the resolver follows (another provider's name).
          w.nameRecord(1, part.owner, TYPE.CNAME, d.ttl, alias);
          sign.rrsig(1, part.owner, TYPE.CNAME, d.ttl, [encodeName(alias)]);
          continue;
        }
        // The client's own address set is signed as one RRset (cached by content, see ZoneSigner).
        const written =
          part.qtype === TYPE.HTTPS && part.service.https
            ? [svcbWire(part.service.https, addressHints(steeredSet(d, 4), steeredSet(d, 6)))]
            : steeredSet(d, part.family);
        for (const rd of written) w.record(1, part.owner, part.qtype, d.ttl, rd);
        if (written.length) sign.rrsig(1, part.owner, part.qtype, d.ttl, written);
      }
    }
    const zone = result.zone;
    if (result.kind === 'meta') {
      const sets = [...(result.node?.sets ?? [])];
      // A steered name's signatures are over the addresses this client is given.
      const service = result.node?.service;
      if (service && result.qtype === TYPE.RRSIG) memo = false; // this client's signatures only
      if (service && result.qtype === TYPE.RRSIG)
        for (const family of [4, 6] as const) {
          const rdata = steeredSet(decide({ kind: 'steered', owner: result.name, service, family, qtype: 0 }), family);
          if (rdata.length) sets.push({ type: family === 4 ? TYPE.A : TYPE.AAAA, ttl: service.ttl, rdata });
        }
      sign.metaAnswer(zone, result.name, result.node, result.qtype, sets);
    } else if (result.kind === 'referral') {
      // The cut's NS set in authority (never signed: the child's data), then in a DO answer the
      // signed DS set, or an NSEC proving there is none (an insecure delegation), then glue.
      aa = result.aa;
      writeSet(w, sign, 2, result.cut, result.ns, false);
      const ds = rrsetOf(result.node, TYPE.DS);
      if (sign.signing && ds) writeSet(w, sign, 2, result.cut, ds);
      else if (!ds) sign.noDs(zone, result.cut, result.node);
      glue(w, zone, result.ns.targets as string[]);
    } else if (result.kind === 'answer') {
      if (result.glueFor) glue(w, zone, result.glueFor);
    } else {
      // NXDOMAIN or NODATA: the SOA goes in authority with the negative TTL (RFC 2308). Signed,
      // the denial is compact (RFC 9824): an NSEC at the name itself, and a name that does not
      // exist is answered NOERROR with NXNAME in its bitmap.
      if (result.kind === 'nxdomain') rcode = RCODE.NXDOMAIN;
      w.composite(2, zone.zone.name, TYPE.SOA, zone.negativeTtl, zone.soa.pre, zone.soa.names, zone.soa.post);
      sign.denial(zone, result.name, result.kind === 'nodata' ? result.node : undefined, q.qtype);
      if (sign.signing && rcode === RCODE.NXDOMAIN) rcode = RCODE.NOERROR;
    }
  }
  info.rcode = rcode;
  finish(w, q, info, (aa ? 0x0400 : 0) | rcode, ecsScope, opts);
  return { response: w.finish(), info, decision, ...(memo ? {} : { memo: false }) };
}

/** Flags, the OPT record, and truncation to header and question when it does not fit UDP. */
function finish(
  w: ResponseWriter,
  q: Query,
  info: QueryInfo,
  aaRcode: number,
  scope: number,
  opts: WriteOptions,
): void {
  const flags = 0x8000 | aaRcode | (q.rd ? 0x0100 : 0) | (q.cd ? 0x0010 : 0);
  w.setFlags(flags);
  const edns = q.edns;
  // SOURCE PREFIX-LENGTH 0 (the client asks for no tailoring) is answered with SCOPE 0 (RFC 7871 §7.1.2).
  const ecsEcho = edns?.ecs && opts.ecs ? { ecs: edns.ecs, scope: edns.ecs.sourcePrefix === 0 ? 0 : scope } : undefined;
  const nsid = edns?.nsid ? opts.nsid : undefined;
  if (edns) w.opt(opts.maxUdpSize, 0, edns.dnssecOk, ecsEcho, nsid, opts.cookie);
  if (opts.tcp) return;
  const limit = edns ? Math.min(Math.max(512, edns.udpSize), opts.maxUdpSize) : 512;
  if (w.length <= limit) return;
  // Too large for UDP: send header and question with TC so the client retries on TCP.
  w.truncateTo(q.questionEnd);
  w.setFlags(flags | 0x0200);
  if (edns) w.opt(opts.maxUdpSize, 0, edns.dnssecOk, ecsEcho, nsid, opts.cookie);
  info.truncated = true;
}

/** Writes one RRset, compressing the names in its RDATA where the type allows it; signed unless told not to. */
function writeSet(w: ResponseWriter, sign: AnswerSigner, section: 1 | 2 | 3, owner: string, set: RRset, signed = true) {
  if (set.parts) for (const p of set.parts) w.composite(section, owner, set.type, set.ttl, p.pre, p.names, p.post);
  else for (const rd of set.rdata) w.record(section, owner, set.type, set.ttl, rd);
  if (signed && section !== 3) sign.rrsig(section, owner, set.type, set.ttl, set.rdata);
}

/** The addresses a decision answers with, of one family, as RDATA. */
function steeredSet(d: Decision, family: 4 | 6): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of d.selection.pools) {
    const addr = family === 4 ? p.vip4 : p.vip6;
    if (addr) out.push(addressRdata(addr));
  }
  return out;
}

/** Addresses of name servers we hold, in additional. */
function glue(w: ResponseWriter, zone: CompiledZone, targets: string[]): void {
  for (const t of targets) {
    const n = nodeOf(zone, t);
    if (!n) continue;
    for (const type of [TYPE.A, TYPE.AAAA]) {
      const set = rrsetOf(n, type);
      if (set) for (const rd of set.rdata) w.record(3, t, type, set.ttl, rd);
    }
  }
}
