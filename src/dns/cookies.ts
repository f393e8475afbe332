// DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018): a client that sends a
// COOKIE option gets our server cookie back, made from its client cookie, its address, the time
// and a secret; a server cookie it returns later proves its address is not spoofed. Servers of
// one anycast set that share the secret (`dns.cookie_secret_env`) accept each other's cookies,
// whatever their implementation (Knot, BIND, PowerDNS and NSD follow RFC 9018 too). Pure.
import { ipv4Bytes, ipv6Bytes } from '../net/index.js';

/** A server cookie older than this is no longer valid, one this far in the future neither (RFC 9018 §4.3). */
const MAX_AGE_S = 3600;
const MAX_AHEAD_S = 300;

export interface CookieVerdict {
  /** The option to answer with: the client cookie and a fresh server cookie (24 bytes). */
  option: Uint8Array;
  /** The query carried a server cookie of ours that holds: its source address is proven. */
  valid: boolean;
}

/** Checks the query's cookie and makes the answer's (`client`: 8 bytes, `server`: 8-32 or none). */
export function cookieFor(
  secret: Uint8Array,
  cookie: { client: Uint8Array; server?: Uint8Array },
  address: string,
  nowS: number,
): CookieVerdict {
  const ip = address.includes(':') ? ipv6Bytes(address) : ipv4Bytes(address);
  const s = cookie.server;
  let valid = false;
  if (s?.length === 16 && s[0] === 1) {
    const t =
      ((s[4] as number) * 2 ** 24 + ((s[5] as number) << 16) + ((s[6] as number) << 8) + (s[7] as number)) >>> 0;
    // Serial-number arithmetic on the 32-bit timestamp (RFC 9018 §4.3).
    const age = (nowS - t) | 0;
    valid =
      age <= MAX_AGE_S &&
      age >= -MAX_AHEAD_S &&
      equal(serverCookie(secret, cookie.client, ip, t).subarray(8), s.subarray(8));
  }
  const option = new Uint8Array(24);
  option.set(cookie.client, 0);
  option.set(serverCookie(secret, cookie.client, ip, nowS >>> 0), 8);
  return { option, valid };
}

/** Version 1, reserved, timestamp, then SipHash-2-4 over client cookie | those 8 bytes | client IP. */
export function serverCookie(secret: Uint8Array, client: Uint8Array, ip: Uint8Array, t: number): Uint8Array {
  const out = new Uint8Array(16);
  out[0] = 1;
  out[4] = t >>> 24;
  out[5] = (t >>> 16) & 0xff;
  out[6] = (t >>> 8) & 0xff;
  out[7] = t & 0xff;
  const input = new Uint8Array(16 + ip.length);
  input.set(client, 0);
  input.set(out.subarray(0, 8), 8);
  input.set(ip, 16);
  out.set(sipHash24(secret, input), 8);
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  let d = a.length ^ b.length;
  for (let i = 0; i < a.length && i < b.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

// SipHash-2-4 (Aumasson and Bernstein) in 32-bit halves, in local variables: node:crypto has no
// SipHash, BigInt arithmetic would cost microseconds per query, and a version on [hi, lo] arrays
// measured 2.5x slower than this one. Each 64-bit word is a pair hi/lo of unsigned 32-bit numbers.

/** A little-endian 32-bit word of `b` at `at`, the bytes past its end read as 0. */
function le32(b: Uint8Array, at: number): number {
  const byte = (i: number) => (at + i < b.length ? (b[at + i] as number) : 0);
  return (byte(0) | (byte(1) << 8) | (byte(2) << 16) | (byte(3) << 24)) >>> 0;
}

/** SipHash-2-4 of `m` under the 16-byte `key`: 8 bytes, little-endian. */
// long: the round works on the eight halves as local variables of this one function (the speed-up).
export function sipHash24(key: Uint8Array, m: Uint8Array): Uint8Array {
  const k0l = le32(key, 0);
  const k0h = le32(key, 4);
  const k1l = le32(key, 8);
  const k1h = le32(key, 12);
  let v0h = (k0h ^ 0x736f6d65) >>> 0;
  let v0l = (k0l ^ 0x70736575) >>> 0;
  let v1h = (k1h ^ 0x646f7261) >>> 0;
  let v1l = (k1l ^ 0x6e646f6d) >>> 0;
  let v2h = (k0h ^ 0x6c796765) >>> 0;
  let v2l = (k0l ^ 0x6e657261) >>> 0;
  let v3h = (k1h ^ 0x74656462) >>> 0;
  let v3l = (k1l ^ 0x79746573) >>> 0;
  let lo: number;
  let h: number;
  const round = () => {
    // v0 += v1; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
    lo = (v0l + v1l) >>> 0;
    v0h = (v0h + v1h + (lo < v0l ? 1 : 0)) >>> 0;
    v0l = lo;
    h = v1h;
    v1h = ((v1h << 13) | (v1l >>> 19)) >>> 0;
    v1l = ((v1l << 13) | (h >>> 19)) >>> 0;
    v1h = (v1h ^ v0h) >>> 0;
    v1l = (v1l ^ v0l) >>> 0;
    h = v0h;
    v0h = v0l;
    v0l = h;
    // v2 += v3; v3 = rotl(v3, 16) ^ v2
    lo = (v2l + v3l) >>> 0;
    v2h = (v2h + v3h + (lo < v2l ? 1 : 0)) >>> 0;
    v2l = lo;
    h = v3h;
    v3h = ((v3h << 16) | (v3l >>> 16)) >>> 0;
    v3l = ((v3l << 16) | (h >>> 16)) >>> 0;
    v3h = (v3h ^ v2h) >>> 0;
    v3l = (v3l ^ v2l) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21) ^ v0
    lo = (v0l + v3l) >>> 0;
    v0h = (v0h + v3h + (lo < v0l ? 1 : 0)) >>> 0;
    v0l = lo;
    h = v3h;
    v3h = ((v3h << 21) | (v3l >>> 11)) >>> 0;
    v3l = ((v3l << 21) | (h >>> 11)) >>> 0;
    v3h = (v3h ^ v0h) >>> 0;
    v3l = (v3l ^ v0l) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
    lo = (v2l + v1l) >>> 0;
    v2h = (v2h + v1h + (lo < v2l ? 1 : 0)) >>> 0;
    v2l = lo;
    h = v1h;
    v1h = ((v1h << 17) | (v1l >>> 15)) >>> 0;
    v1l = ((v1l << 17) | (h >>> 15)) >>> 0;
    v1h = (v1h ^ v2h) >>> 0;
    v1l = (v1l ^ v2l) >>> 0;
    h = v2h;
    v2h = v2l;
    v2l = h;
  };
  const block = (mh: number, ml: number) => {
    v3h = (v3h ^ mh) >>> 0;
    v3l = (v3l ^ ml) >>> 0;
    round();
    round();
    v0h = (v0h ^ mh) >>> 0;
    v0l = (v0l ^ ml) >>> 0;
  };
  const whole = m.length - (m.length % 8);
  for (let i = 0; i < whole; i += 8) block(le32(m, i + 4), le32(m, i));
  // The tail, zero-padded, with the length in the top byte.
  block((le32(m, whole + 4) | ((m.length & 0xff) << 24)) >>> 0, le32(m, whole));
  v2l = (v2l ^ 0xff) >>> 0;
  for (let i = 0; i < 4; i++) round();
  const outH = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  const outL = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  const out = new Uint8Array(8);
  for (let i = 0; i < 4; i++) {
    out[i] = (outL >>> (8 * i)) & 0xff;
    out[4 + i] = (outH >>> (8 * i)) & 0xff;
  }
  return out;
}
