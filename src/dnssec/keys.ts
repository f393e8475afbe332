// DNSSEC keys: what a key is (RFC 4034 §2 DNSKEY), its tag (Appendix B), its DS (§5, SHA-256),
// its role and timing, and which keys publish and sign at a given moment. No files here (see
// key-files.ts); the crypto is node:crypto.
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { encodeName } from '../wire/index.js';

export const ALGORITHM_NAMES: Record<number, string> = { 13: 'ECDSAP256SHA256', 15: 'ED25519' };

/** CSK: one key signs everything; KSK signs the DNSKEY set (its DS is at the parent); ZSK the rest. */
export type KeyRole = 'csk' | 'ksk' | 'zsk';

/** One key as its file holds it (times are epoch milliseconds; null: not scheduled). */
export interface ZoneKey {
  zone: string;
  role: KeyRole;
  algorithm: 13 | 15;
  /** The DNSKEY public key field, base64. */
  publicKey: string;
  /** PKCS#8 PEM. Never logged, never served. */
  privateKey: string;
  created: number;
  /** In the DNSKEY set from `publish` until `delete`; signs from `activate` until `inactive`. */
  publish: number | null;
  activate: number | null;
  inactive: number | null;
  delete: number | null;
}

export const flagsOf = (k: Pick<ZoneKey, 'role'>) => (k.role === 'zsk' ? 256 : 257);

/** DNSKEY RDATA: flags, protocol 3, algorithm, public key. */
export function dnskeyRdata(k: Pick<ZoneKey, 'role' | 'algorithm' | 'publicKey'>): Buffer {
  const pub = Buffer.from(k.publicKey, 'base64');
  const out = Buffer.alloc(4 + pub.length);
  out.writeUInt16BE(flagsOf(k), 0);
  out[2] = 3;
  out[3] = k.algorithm;
  pub.copy(out, 4);
  return out;
}

/** The key tag of a DNSKEY RDATA (RFC 4034 Appendix B). */
export function keyTag(rdata: Uint8Array): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? (rdata[i] as number) : (rdata[i] as number) << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

export const tagOf = (k: ZoneKey) => keyTag(dnskeyRdata(k));

/** DS RDATA with a SHA-256 digest (digest type 2) of owner name and DNSKEY RDATA. */
export function dsRdata(zone: string, k: ZoneKey): Buffer {
  const key = dnskeyRdata(k);
  const digest = createHash('sha256').update(encodeName(zone)).update(key).digest();
  const out = Buffer.alloc(4);
  out.writeUInt16BE(keyTag(key), 0);
  out[2] = k.algorithm;
  out[3] = 2;
  return Buffer.concat([out, digest]);
}

/** The DS record in presentation form, as a registrar asks for it. */
export function dsText(zone: string, k: ZoneKey, ttl?: number): string {
  const ds = dsRdata(zone, k);
  return `${zone}.${ttl === undefined ? '' : ` ${ttl}`} IN DS ${ds.readUInt16BE(0)} ${ds[2]} ${ds[3]} ${ds.subarray(4).toString('hex').toUpperCase()}`;
}

const at = (t: number | null, now: number) => t !== null && t <= now;

export const isPublished = (k: ZoneKey, now: number) => at(k.publish, now) && !at(k.delete, now);
export const isSigning = (k: ZoneKey, now: number) =>
  isPublished(k, now) && at(k.activate, now) && !at(k.inactive, now);

/** What a zone's keys do at `now`, and when that next changes. */
export interface KeySet {
  /** The DNSKEY RRset. */
  published: ZoneKey[];
  /** Keys that sign the DNSKEY, CDS and CDNSKEY sets (KSK, CSK). */
  keySigning: ZoneKey[];
  /** Keys that sign everything else (ZSK, CSK). */
  zoneSigning: ZoneKey[];
  /** Keys whose DS belongs at the parent (CDS/CDNSKEY): published KSK/CSK not yet retired. */
  atParent: ZoneKey[];
  /** The next scheduled change of any key (Infinity: none). */
  nextChange: number;
}

export function keySet(keys: ZoneKey[], now: number): KeySet {
  const published = keys.filter((k) => isPublished(k, now));
  const signing = published.filter((k) => isSigning(k, now));
  const nextChange = Math.min(
    ...keys
      .flatMap((k) => [k.publish, k.activate, k.inactive, k.delete])
      .filter((t): t is number => t !== null && t > now),
  );
  return {
    published,
    keySigning: signing.filter((k) => k.role !== 'zsk'),
    zoneSigning: signing.filter((k) => k.role !== 'ksk'),
    atParent: published.filter((k) => k.role !== 'zsk' && !at(k.inactive, now)),
    nextChange,
  };
}

/** Why this set cannot sign a zone (no key for one of the two jobs), or undefined. */
export function keySetProblem(zone: string, s: KeySet): string | undefined {
  if (s.keySigning.length === 0) return `zone ${zone}: no active KSK or CSK (nothing can sign its DNSKEY set)`;
  if (s.zoneSigning.length === 0) return `zone ${zone}: no active ZSK or CSK (nothing can sign its data)`;
  return undefined;
}

/** A private key object, made once per key (parsing PEM per signature would dominate). */
const privateKeys = new WeakMap<ZoneKey, KeyObject>();
export function privateKeyOf(k: ZoneKey): KeyObject {
  let o = privateKeys.get(k);
  if (!o) privateKeys.set(k, (o = createPrivateKey(k.privateKey)));
  return o;
}

/** The DNSKEY public key field of a key pair (P-256: X and Y; Ed25519: the 32-byte key). */
export function publicKeyField(privateKeyPem: string): string {
  const jwk = createPublicKey(createPrivateKey(privateKeyPem)).export({ format: 'jwk' });
  const parts = [jwk.x, jwk.y].filter((x): x is string => typeof x === 'string');
  return Buffer.concat(parts.map((p) => Buffer.from(p, 'base64url'))).toString('base64');
}

/**
 * Until when the zone can be signed without a gap (ms; Infinity: no end planned; `now` when
 * nothing signs now): the end of the chain of signing intervals that covers `now`, for the
 * records (ZSK or CSK) and for the DNSKEY set (KSK or CSK), whichever ends first. Past it the
 * server cannot make signatures, and validators start failing as the last ones expire.
 */
export function signingUntil(keys: ZoneKey[], now: number): number {
  const chainEnd = (ks: ZoneKey[]) => {
    let until = now;
    for (let grew = true; grew;) {
      grew = false;
      for (const k of ks) {
        const end = k.inactive ?? Infinity;
        if (k.activate !== null && k.activate <= until && end > until) {
          until = end;
          grew = true;
        }
      }
    }
    return until;
  };
  return Math.min(chainEnd(keys.filter((k) => k.role !== 'ksk')), chainEnd(keys.filter((k) => k.role !== 'zsk')));
}
