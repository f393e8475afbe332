// The signing step of an answer: in a DO answer from a signed zone, RRSIGs right after each
// RRset the writer puts in (cached by content in the zone's ZoneSigner), and the compact denial
// (RFC 9824): an NSEC at the name itself whose bitmap lists what the name holds. Outside such
// answers every method is a no-op, so the writer calls them unconditionally.
import type { ZoneSigner } from '../dnssec/index.js';
import { compactNsecRdata, TYPE_NXNAME } from '../dnssec/index.js';
import { TYPE, type ResponseWriter } from '../wire/index.js';
import { nodeOf, rrsetOf, type CompiledZone, type RRset, type ZoneNode } from './zone.js';

export class AnswerSigner {
  /** This is a DO answer from a signed zone: signatures and proofs go in. */
  readonly signing: boolean;

  constructor(
    private readonly w: ResponseWriter,
    /** The zone's signer, when the zone is signed. */
    private readonly sig: ZoneSigner | undefined,
    private readonly now: number,
    dnssecOk: boolean,
  ) {
    this.signing = dnssecOk && sig !== undefined;
  }

  /** The RRSIGs over an RRset just written. */
  rrsig(section: 1 | 2, owner: string, type: number, ttl: number, rdatas: Uint8Array[]): void {
    if (this.signing) this.writeSigs(section, owner, type, ttl, rdatas);
  }

  private writeSigs(section: 1 | 2, owner: string, type: number, ttl: number, rdatas: Uint8Array[]): void {
    for (const rd of (this.sig as ZoneSigner).sign(owner, type, ttl, rdatas, this.now))
      this.w.record(section, owner, TYPE.RRSIG, ttl, rd);
  }

  /**
   * A question for NSEC or RRSIG in a signed zone, answered as an online signer with compact
   * denial must: NSEC is the name's own compact NSEC (the types it holds, or NXNAME for a name
   * that does not exist), signed in a DO answer. RRSIG is the signatures over every RRset the name
   * holds, its NSEC included (as BIND and Knot answer it; validators do not validate RRSIG sets):
   * `sets` are the name's data, a steered name's for this client among them.
   */
  metaAnswer(zone: CompiledZone, name: string, node: ZoneNode | undefined, qtype: number, sets: RRset[]): void {
    const types = node ? this.typesAt(zone, name, node) : [TYPE_NXNAME];
    const nsec = compactNsecRdata(name, types);
    if (qtype === TYPE.NSEC) {
      this.w.record(1, name, TYPE.NSEC, zone.negativeTtl, nsec);
      this.rrsig(1, name, TYPE.NSEC, zone.negativeTtl, [nsec]);
      return;
    }
    for (const set of sets) this.writeSigs(1, name, set.type, set.ttl, set.rdata);
    this.writeSigs(1, name, TYPE.NSEC, zone.negativeTtl, [nsec]);
  }

  /**
   * After the SOA of a negative answer: the SOA's signatures and the compact NSEC of `name`, whose
   * bitmap lists what the name holds (never the asked type), or NXNAME when there is no such name
   * (node undefined).
   */
  denial(zone: CompiledZone, name: string, node: ZoneNode | undefined, qtype: number): void {
    if (!this.signing) return;
    const soa = rrsetOf(nodeOf(zone, zone.zone.name) as ZoneNode, TYPE.SOA) as RRset;
    this.rrsig(2, zone.zone.name, TYPE.SOA, zone.negativeTtl, soa.rdata);
    this.nsec(zone, name, node ? this.typesAt(zone, name, node).filter((t) => t !== qtype) : [TYPE_NXNAME]);
  }

  /** An insecure delegation's proof: the compact NSEC of the cut, without DS in its bitmap. */
  noDs(zone: CompiledZone, cut: string, node: ZoneNode): void {
    if (this.signing) this.nsec(zone, cut, this.typesAt(zone, cut, node));
  }

  /** The compact NSEC of `name` (RFC 9824) in authority, with its signatures. */
  private nsec(zone: CompiledZone, name: string, types: number[]): void {
    const rdata = compactNsecRdata(name, types);
    this.w.record(2, name, TYPE.NSEC, zone.negativeTtl, rdata);
    this.rrsig(2, name, TYPE.NSEC, zone.negativeTtl, [rdata]);
  }

  /** The types a name holds, for an NSEC bitmap (RRSIG and NSEC are added by the bitmap). */
  private typesAt(zone: CompiledZone, name: string, node: ZoneNode): number[] {
    const types = node.sets.map((s) => s.type);
    if (node.service) {
      if (node.service.pools.some((p) => p.vip4)) types.push(TYPE.A);
      if (node.service.pools.some((p) => p.vip6)) types.push(TYPE.AAAA);
    }
    if (this.sig && name === zone.zone.name) types.push(...this.sig.apexTypes());
    return types;
  }
}

/** DNSKEY, CDS and CDNSKEY at a signed zone's apex (to any query, DO or not). */
export function apexSetOf(signer: ZoneSigner | undefined, type: number): RRset | undefined {
  const rdata = signer?.apexSet(type);
  return rdata && signer && { type, ttl: signer.policy.dnskeyTtl, rdata };
}
