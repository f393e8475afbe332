// The first step of an answer: where the question leads in our zones, as a typed result (as
// CoreDNS's file plugin returns success, no data, name error or delegation) and no bytes.
// Pure: the steps after it decide who gets which region (src/policy/steer.ts), write the
// message (answer-writer.ts) and sign it (answer-signer.ts).
import type { Service } from '../config/index.js';
import { MAX_CNAME_CHAIN } from '../config/limits.js';
import { TYPE } from '../wire/index.js';
import { TYPE_NXNAME } from '../dnssec/index.js';
import { cutOf, findZone, nodeOf, rrsetOf, type CompiledZone, type RRset, type ZoneNode } from './zone.js';

/**
 * One piece of the answer section, in order: data, the CNAMEs of a chain, or a steered name.
 * `wildcard` is the source of synthesis when the owner's data came from a wildcard (RFC 4592).
 */
export type AnswerPart = (
  | { kind: 'rrset'; owner: string; set: RRset }
  /** The policy decides which addresses (the service has some of the asked family). */
  | { kind: 'steered'; owner: string; service: Service; family: 4 | 6; qtype: number }
  /** ANY answered minimally (RFC 8482). */
  | { kind: 'hinfo'; owner: string; ttl: number }
) & { wildcard?: string };

export type Lookup =
  /** Not a question for us (no zone, another class, a transfer). */
  | { kind: 'refused' }
  /** A question that is malformed by meaning (NXNAME asked for, RFC 9824 §3.5). */
  | { kind: 'formerr' }
  /** A secondary zone with no copy, or past its expire: SERVFAIL (not stale data forever). */
  | { kind: 'unavailable' }
  /** Data (maybe at the end of a CNAME chain, or the chain leaving our zone). */
  | { kind: 'answer'; zone: CompiledZone; answer: AnswerPart[]; glueFor?: string[] }
  /** The name or the chain's end lies at or below a delegation: the child answers. */
  | { kind: 'referral'; zone: CompiledZone; answer: AnswerPart[]; cut: string; ns: RRset; node: ZoneNode; aa: boolean }
  /** The name exists (or a wildcard stands for it) without data of the asked type (RFC 2308 §2.2). */
  | { kind: 'nodata'; zone: CompiledZone; answer: AnswerPart[]; name: string; node: ZoneNode; wildcard?: string }
  /**
   * NSEC or RRSIG asked of a signed zone: the name's compact NSEC, or the signatures over what it
   * holds (node undefined: a name that does not exist, whose NSEC carries NXNAME).
   */
  | { kind: 'meta'; zone: CompiledZone; answer: AnswerPart[]; name: string; node?: ZoneNode; qtype: number }
  /** The name does not exist (RFC 2308 §2.1). */
  | { kind: 'nxdomain'; zone: CompiledZone; answer: AnswerPart[]; name: string };

export interface Question {
  qname: string;
  qtype: number;
  qclass: number;
}

/** The zone a question belongs to, if any (DS at a child's apex is the parent's). */
export function zoneFor(zones: CompiledZone[], q: Question): CompiledZone | undefined {
  // QCLASS * (255) asks for any class: ours is IN (RFC 1035 §3.2.5).
  if ((q.qclass !== 1 && q.qclass !== 255) || q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR) return undefined;
  const zone = findZone(zones, q.qname);
  // DS at a child's apex is the parent's data: when we serve both, the parent answers (RFC 4035 §3.1.4.1).
  if (zone && q.qtype === TYPE.DS && q.qname === zone.zone.name)
    return (
      findZone(
        zones.filter((z) => z !== zone),
        q.qname,
      ) ?? zone
    );
  return zone;
}

/** What the lookup asks of the signing side: a signed zone's apex sets, and whether it is signed. */
export interface Signing {
  /** DNSKEY, CDS and CDNSKEY of a signed zone. */
  apexSet(zone: CompiledZone, type: number): RRset | undefined;
  signed(zone: CompiledZone): boolean;
}

const UNSIGNED: Signing = { apexSet: () => undefined, signed: () => false };

/** Where a question leads. */
export function lookup(zones: CompiledZone[], q: Question, signing: Signing = UNSIGNED): Lookup {
  if (q.qtype === TYPE_NXNAME) return { kind: 'formerr' };
  const zone = zoneFor(zones, q);
  if (!zone) return { kind: 'refused' };
  if (zone.zone.unavailable) return { kind: 'unavailable' };
  const answer: AnswerPart[] = [];
  let name = q.qname;
  for (let depth = 0; ; depth++) {
    // At or below a delegation the child zone answers: a referral (RFC 1034 §4.3.2 step 3b),
    // except for DS at the cut, which is the parent's (ours) to answer (RFC 4034 §5).
    const cut = cutOf(zone, name);
    if (cut && !(q.qtype === TYPE.DS && name === cut.name))
      // Not authoritative for the child's data, unless a CNAME of ours led here.
      return {
        kind: 'referral',
        zone,
        answer,
        cut: cut.name,
        ns: cut.ns,
        node: nodeOf(zone, cut.name) as ZoneNode,
        aa: depth > 0,
      };
    // A name that does not exist may be synthesized from the wildcard at its closest encloser.
    const exact = nodeOf(zone, name);
    const synth = exact ? undefined : wildcardFor(zone, name);
    const node = exact ?? synth?.node;
    // NSEC and RRSIG live beside any data, a CNAME included: no chain is followed for them.
    if ((q.qtype === TYPE.NSEC || q.qtype === TYPE.RRSIG) && signing.signed(zone))
      return { kind: 'meta', zone, answer, name, node: exact ?? synth?.node, qtype: q.qtype };
    if (!node) return { kind: 'nxdomain', zone, answer, name };
    const from = synth ? { wildcard: synth.source } : {};
    const cname = rrsetOf(node, TYPE.CNAME);
    if (q.qtype === TYPE.ANY) {
      // ANY at an alias is the alias (RFC 8482 §4.1): a HINFO there would be "CNAME and other data".
      answer.push(
        cname
          ? { kind: 'rrset', owner: name, set: cname, ...from }
          : { kind: 'hinfo', owner: name, ttl: zone.zone.soa.ttl, ...from },
      );
      return { kind: 'answer', zone, answer };
    }
    if (cname && q.qtype !== TYPE.CNAME) {
      const target = (cname.targets as string[])[0] as string;
      answer.push({ kind: 'rrset', owner: name, set: cname, ...from });
      // Follow the chain while it stays inside this zone; else the answer ends in the CNAME.
      if (depth + 1 >= MAX_CNAME_CHAIN || !(target === zone.zone.name || target.endsWith(`.${zone.zone.name}`)))
        return { kind: 'answer', zone, answer };
      name = target;
      continue;
    }
    if (node.service && (q.qtype === TYPE.A || q.qtype === TYPE.AAAA)) {
      const family = q.qtype === TYPE.A ? 4 : 6;
      // Selection fails open, so it is never empty while a pool has an address of the family.
      if (!node.service.pools.some((p) => p.cname || (family === 4 ? p.vip4 : p.vip6)))
        return { kind: 'nodata', zone, answer, name, node, ...from };
      answer.push({ kind: 'steered', owner: name, service: node.service, family, qtype: q.qtype, ...from });
      return { kind: 'answer', zone, answer };
    }
    if (node.service?.https && q.qtype === TYPE.HTTPS) {
      // The hints are the addresses this client is given: decided as for A (AAAA when v6 only).
      const family = node.service.pools.some((p) => p.vip4) ? 4 : 6;
      answer.push({ kind: 'steered', owner: name, service: node.service, family, qtype: q.qtype, ...from });
      return { kind: 'answer', zone, answer };
    }
    const set = rrsetOf(node, q.qtype) ?? (name === zone.zone.name ? signing.apexSet(zone, q.qtype) : undefined);
    if (!set) return { kind: 'nodata', zone, answer, name, node, ...from };
    answer.push({ kind: 'rrset', owner: name, set, ...from });
    return set.type === TYPE.NS
      ? { kind: 'answer', zone, answer, glueFor: set.targets }
      : { kind: 'answer', zone, answer };
  }
}

/**
 * The source of synthesis for a name that does not exist (RFC 4592 §3.3.1): the wildcard child of
 * its closest encloser, the nearest ancestor that exists (names with data and empty non-terminals
 * alike, so both block expansion below them). None when that ancestor has no wildcard.
 */
export function wildcardFor(zone: CompiledZone, name: string): { source: string; node: ZoneNode } | undefined {
  const apex = zone.zone.name;
  let n = name;
  while (n !== apex) {
    n = n.slice(n.indexOf('.') + 1);
    if (n === apex || nodeOf(zone, n)) break;
  }
  const source = `*.${n}`;
  const node = nodeOf(zone, source);
  return node ? { source, node } : undefined;
}
