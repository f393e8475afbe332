// Online signing of one zone: RRSIGs over RRsets in canonical form (RFC 4034 §3.1.8.1, §6), the
// zone's DNSKEY, CDS and CDNSKEY sets (RFC 7344), and compact denial NSEC records (RFC 9824).
// Signatures are cached by RRset content (owner, type, TTL, RDATA): a steered answer that many
// clients share is signed once per refresh period, never per query.
import { sign as cryptoSign } from 'node:crypto';
import type { ZoneDnssec } from '../config/index.js';
import { HotCache, unpooled, type CacheStats } from '../runtime/index.js';
import { encodeName, TYPE } from '../wire/index.js';
import { dnskeyRdata, dsRdata, keySet, keySetProblem, privateKeyOf, tagOf, type KeySet, type ZoneKey } from './keys.js';

export const TYPE_CDS = 59;
export const TYPE_CDNSKEY = 60;
/** RFC 9824: the NSEC type bitmap of a name that does not exist carries this meta-type. */
export const TYPE_NXNAME = 128;

/**
 * Signature cache bound (one signature costs tens of µs). Kept by popularity (HotCache): a flood
 * of one-off names churns only the cache's probation segment, the popular signatures stay.
 */
const CACHE_MAX = 50_000;

/** The RRs of one RRset in canonical order and form: what an RRSIG covers (after its own fields). */
export function canonicalRRset(owner: string, type: number, ttl: number, rdatas: Uint8Array[]): Buffer {
  const name = encodeName(owner.toLowerCase());
  const sorted = [...rdatas].sort(Buffer.compare);
  const parts: Uint8Array[] = [];
  let prev: Uint8Array | undefined;
  for (const rd of sorted) {
    if (prev && Buffer.compare(prev, rd) === 0) continue; // duplicates count once (RFC 4034 §6.3)
    prev = rd;
    const head = Buffer.alloc(10);
    head.writeUInt16BE(type, 0);
    head.writeUInt16BE(1, 2);
    head.writeUInt32BE(ttl >>> 0, 4);
    head.writeUInt16BE(rd.length, 8);
    parts.push(name, head, rd);
  }
  return Buffer.concat(parts);
}

/**
 * Labels of an owner name, as the RRSIG Labels field counts them: the root and a leftmost `*`
 * (a wildcard's own name) are not counted (RFC 4034 §3.1.3). A name synthesized from a wildcard
 * is signed at its own name, as online signers do, so it counts all its labels.
 */
export const labelCount = (name: string) =>
  name === '' ? 0 : name.split('.').length - (name.startsWith('*.') ? 1 : 0);

/** An NSEC type bitmap (RFC 4034 §4.1.2) of these types. */
export function typeBitmap(types: Iterable<number>): Buffer {
  const windows = new Map<number, number[]>();
  for (const t of new Set(types)) {
    const w = t >> 8;
    const bits = windows.get(w) ?? [];
    bits.push(t & 0xff);
    windows.set(w, bits);
  }
  const out: Buffer[] = [];
  for (const w of [...windows.keys()].sort((a, b) => a - b)) {
    const bits = windows.get(w) as number[];
    const len = (Math.max(...bits) >> 3) + 1;
    const block = Buffer.alloc(2 + len);
    block[0] = w;
    block[1] = len;
    for (const b of bits) block[2 + (b >> 3)] = (block[2 + (b >> 3)] as number) | (0x80 >> (b & 7));
    out.push(block);
  }
  return Buffer.concat(out);
}

/**
 * Compact denial (RFC 9824): an NSEC at the name itself whose next name is the name's immediate
 * successor (`\000.name`), so it covers nothing else and no chain has to exist.
 */
export function compactNsecRdata(name: string, types: Iterable<number>): Buffer {
  return Buffer.concat([Buffer.from([1, 0]), encodeName(name), typeBitmap([...types, TYPE.RRSIG, TYPE.NSEC])]);
}

export class ZoneSigner {
  private keys!: KeySet;
  private readonly signerName: Buffer;
  /** Signatures by RRset: made at `made`, reused until `until`, never before `made`. */
  /** Kept from an RRset's second signing on: the one-off proofs of a random-name flood never are. */
  private readonly cache = new HotCache<string, { sigs: Buffer[]; made: number; until: number }>(CACHE_MAX, {
    secondSight: true,
  });
  /** When the key states were taken: a clock that goes back past it takes them again. */
  private takenAt = 0;
  private dnskeys: Buffer[] = [];
  private cds: Buffer[] = [];
  private cdnskey: Buffer[] = [];
  /** Signatures made (tests and the bench read it). */
  signatures = 0;

  constructor(
    readonly zone: string,
    private readonly keyList: ZoneKey[],
    readonly policy: ZoneDnssec,
    now = Date.now(),
  ) {
    this.signerName = encodeName(zone);
    this.rekey(now);
  }

  /** Takes the key states at `now`; throws when no key could sign (the config is then refused). */
  private rekey(now: number): void {
    const s = keySet(this.keyList, now);
    const problem = keySetProblem(this.zone, s);
    if (problem) throw new Error(problem);
    this.keys = s;
    this.takenAt = now;
    this.dnskeys = s.published.map(dnskeyRdata);
    this.cds = s.atParent.map((k) => dsRdata(this.zone, k));
    this.cdnskey = s.atParent.map(dnskeyRdata);
    this.cache.clear();
  }

  /**
   * When a key's scheduled step is due, or the clock went back (a correction after it ran
   * ahead: the states were taken for a time that has not come), the key states are taken
   * again; true if they were.
   */
  tick(now: number): boolean {
    if (now < this.keys.nextChange && now >= this.takenAt) return false;
    this.rekey(now);
    return true;
  }

  /** The signature cache's hit rate and churn (metrics). */
  get cacheStats(): CacheStats {
    return this.cache.stats;
  }

  get nextChange(): number {
    return this.keys.nextChange;
  }

  /** The synthesized apex sets: DNSKEY, CDS, CDNSKEY (RDATA lists; empty: none). */
  apexSet(type: number): Buffer[] | undefined {
    if (type === TYPE.DNSKEY) return this.dnskeys;
    if (type === TYPE_CDS) return this.cds.length ? this.cds : undefined;
    if (type === TYPE_CDNSKEY) return this.cdnskey.length ? this.cdnskey : undefined;
    return undefined;
  }

  /** Types the apex holds because the zone is signed (for NSEC bitmaps). */
  apexTypes(): number[] {
    return this.cds.length ? [TYPE.DNSKEY, TYPE_CDS, TYPE_CDNSKEY] : [TYPE.DNSKEY];
  }

  /** RRSIG RDATAs over one RRset, from the cache while fresh. */
  sign(owner: string, type: number, ttl: number, rdatas: Uint8Array[], now: number): Buffer[] {
    const canonical = canonicalRRset(owner, type, ttl, rdatas);
    const key = `${type}|${canonical.toString('latin1')}`;
    const hit = this.cache.get(key);
    // A signature made at a later time than now (the clock was stepped back) has an inception
    // validators have not reached: it is made again, never served.
    if (hit && hit.until > now && hit.made <= now) return hit.sigs;
    const apex = type === TYPE.DNSKEY || type === TYPE_CDS || type === TYPE_CDNSKEY;
    const signers = apex ? this.keys.keySigning : this.keys.zoneSigning;
    const inception = Math.floor(now / 1000) - this.policy.inceptionOffsetS;
    const expiration = Math.floor(now / 1000) + this.policy.validityS;
    const sigs = signers.map((k) => {
      const head = Buffer.alloc(18);
      head.writeUInt16BE(type, 0);
      head[2] = k.algorithm;
      head[3] = labelCount(owner);
      head.writeUInt32BE(ttl >>> 0, 4);
      head.writeUInt32BE(expiration >>> 0, 8);
      head.writeUInt32BE(inception >>> 0, 12);
      head.writeUInt16BE(tagOf(k), 16);
      const fields = Buffer.concat([head, this.signerName]);
      const data = Buffer.concat([fields, canonical]);
      const signature =
        k.algorithm === 13
          ? cryptoSign('sha256', data, { key: privateKeyOf(k), dsaEncoding: 'ieee-p1363' })
          : cryptoSign(null, data, privateKeyOf(k));
      this.signatures++;
      // Kept in the cache: in memory of its own, not a slice of a shared slab (src/runtime/bytes.ts).
      return unpooled(Buffer.concat([fields, signature]));
    });
    this.cache.set(key, { sigs, made: now, until: now + this.policy.refreshS * 1000 });
    return sigs;
  }
}
