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

// SipHash-2-4 (Aumasson and Bernstein) in 32-bit halves: node:crypto has no SipHash, and BigInt
// arithmetic would cost a few microseconds per query. Each 64-bit word is [hi, lo].
type Word = [number, number];

const add = (a: Word, b: Word): void => {
  const lo = (a[1] + b[1]) >>> 0;
  a[0] = (a[0] + b[0] + (lo < a[1] ? 1 : 0)) >>> 0;
  a[1] = lo;
};
const xor = (a: Word, b: Word): void => {
  a[0] = (a[0] ^ b[0]) >>> 0;
  a[1] = (a[1] ^ b[1]) >>> 0;
};
const rotl = (a: Word, n: number): void => {
  let [h, l] = a;
  if (n >= 32) {
    [h, l] = [l, h];
    n -= 32;
  }
  if (n === 0) {
    a[0] = h;
    a[1] = l;
    return;
  }
  a[0] = ((h << n) | (l >>> (32 - n))) >>> 0;
  a[1] = ((l << n) | (h >>> (32 - n))) >>> 0;
};

function round(v0: Word, v1: Word, v2: Word, v3: Word): void {
  add(v0, v1);
  rotl(v1, 13);
  xor(v1, v0);
  rotl(v0, 32);
  add(v2, v3);
  rotl(v3, 16);
  xor(v3, v2);
  add(v0, v3);
  rotl(v3, 21);
  xor(v3, v0);
  add(v2, v1);
  rotl(v1, 17);
  xor(v1, v2);
  rotl(v2, 32);
}

/** A little-endian 64-bit word of `b` at `at`, the bytes past its end read as 0. */
function le(b: Uint8Array, at: number): Word {
  const byte = (i: number) => (at + i < b.length ? (b[at + i] as number) : 0);
  return [
    (byte(4) | (byte(5) << 8) | (byte(6) << 16) | (byte(7) << 24)) >>> 0,
    (byte(0) | (byte(1) << 8) | (byte(2) << 16) | (byte(3) << 24)) >>> 0,
  ];
}

/** SipHash-2-4 of `m` under the 16-byte `key`: 8 bytes, little-endian. */
export function sipHash24(key: Uint8Array, m: Uint8Array): Uint8Array {
  const k0 = le(key, 0);
  const k1 = le(key, 8);
  const word = (k: Word, hi: number, lo: number): Word => [(k[0] ^ hi) >>> 0, (k[1] ^ lo) >>> 0];
  const v0 = word(k0, 0x736f6d65, 0x70736575);
  const v1 = word(k1, 0x646f7261, 0x6e646f6d);
  const v2 = word(k0, 0x6c796765, 0x6e657261);
  const v3 = word(k1, 0x74656462, 0x79746573);
  const whole = m.length - (m.length % 8);
  const block = (w: Word) => {
    xor(v3, w);
    round(v0, v1, v2, v3);
    round(v0, v1, v2, v3);
    xor(v0, w);
  };
  for (let i = 0; i < whole; i += 8) block(le(m, i));
  const last = le(m, whole); // the tail, zero-padded
  last[0] = (last[0] | ((m.length & 0xff) << 24)) >>> 0;
  block(last);
  v2[1] = (v2[1] ^ 0xff) >>> 0;
  for (let i = 0; i < 4; i++) round(v0, v1, v2, v3);
  const hi = (v0[0] ^ v1[0] ^ v2[0] ^ v3[0]) >>> 0;
  const lo = (v0[1] ^ v1[1] ^ v2[1] ^ v3[1]) >>> 0;
  const out = new Uint8Array(8);
  for (let i = 0; i < 4; i++) {
    out[i] = (lo >>> (8 * i)) & 0xff;
    out[4 + i] = (hi >>> (8 * i)) & 0xff;
  }
  return out;
}
