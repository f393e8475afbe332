// TSIG (RFC 8945) for zone transfers: verifying a secondary's signed request and signing each
// message of the answer, chained (§5.3.1). Errors as the RFC says: an unknown key or algorithm
// is BADKEY and a wrong MAC BADSIG (NOTAUTH, TSIG unsigned), a time outside the fudge BADTIME
// (NOTAUTH, signed, with our time). Secrets come from the config's loader (files or the
// environment) and are never logged. Pure: bytes and keys in, verdicts and bytes out.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { encodeName } from '../wire/index.js';
import type { TsigKey } from '../config/index.js';

export const TYPE_TSIG = 250;
export const TSIG_ERROR = { BADSIG: 16, BADKEY: 17, BADTIME: 18 } as const;
const CLASS_ANY = 255;
/** How far the signer's clock may be from ours (RFC 8945 §10: 300 s recommended). */
export const TSIG_FUDGE_S = 300;

/** Node's hash for each algorithm the config accepts (a new one there is a compile error here). */
const HASHES: Record<TsigKey['algorithm'], string> = {
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
};

export interface TsigRecord {
  /** Offset of the TSIG RR in the message (everything before it is what was signed). */
  start: number;
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

/** Reads a possibly compressed name at `pos`: [lower-case name, offset after it in place]. */
function readName(msg: Buffer, pos: number): [string, number] {
  const labels: string[] = [];
  let end = -1;
  for (let hops = 0; hops < 64; hops++) {
    const len = msg[pos];
    if (len === undefined) throw new Error('name runs past the message');
    if (len === 0) return [labels.join('.').toLowerCase(), end < 0 ? pos + 1 : end];
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | (msg[pos + 1] ?? 0);
      continue;
    }
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  throw new Error('name with too many pointers');
}

/** The TSIG record when the message ends with one; undefined when it has none; throws when malformed. */
export function findTsig(msg: Buffer): TsigRecord | undefined {
  if (msg.length < 12) throw new Error('short message');
  const counts = [4, 6, 8, 10].map((o) => msg.readUInt16BE(o)) as [number, number, number, number];
  const ar = counts[3];
  if (ar === 0) return undefined;
  let pos = 12;
  for (let i = 0; i < counts[0]; i++) pos = readName(msg, pos)[1] + 4;
  const records = counts[1] + counts[2] + ar;
  for (let i = 0; i < records; i++) {
    const start = pos;
    const [name, after] = readName(msg, pos);
    if (after + 10 > msg.length) throw new Error('record runs past the message');
    const type = msg.readUInt16BE(after);
    const rdlen = msg.readUInt16BE(after + 8);
    const rdata = after + 10;
    pos = rdata + rdlen;
    if (pos > msg.length) throw new Error('record runs past the message');
    if (type !== TYPE_TSIG) continue;
    if (i !== records - 1 || msg.readUInt16BE(after + 2) !== CLASS_ANY)
      throw new Error('TSIG is not the last record, or not class ANY');
    const [algorithm, p0] = readName(msg, rdata);
    const timeSigned = msg.readUInt16BE(p0) * 2 ** 32 + msg.readUInt32BE(p0 + 2);
    const fudge = msg.readUInt16BE(p0 + 6);
    const macLen = msg.readUInt16BE(p0 + 8);
    const mac = msg.subarray(p0 + 10, p0 + 10 + macLen);
    const p1 = p0 + 10 + macLen;
    const otherLen = msg.readUInt16BE(p1 + 4);
    if (p1 + 6 + otherLen !== pos) throw new Error('TSIG RDATA length does not add up');
    return {
      start,
      keyName: name,
      algorithm,
      timeSigned,
      fudge,
      mac,
      originalId: msg.readUInt16BE(p1),
      error: msg.readUInt16BE(p1 + 2),
      other: msg.subarray(p1 + 6, pos),
    };
  }
  return undefined;
}

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u48 = (n: number) => {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(n / 2 ** 32), 0);
  b.writeUInt32BE(n >>> 0, 2);
  return b;
};

/** The TSIG variables (§4.3.3), or only the timers for a later message of a transfer (§5.3.1). */
function variables(
  key: TsigKey,
  timeSigned: number,
  fudge: number,
  error: number,
  other: Buffer,
  timersOnly: boolean,
): Buffer {
  const timers = Buffer.concat([u48(timeSigned), u16(fudge)]);
  if (timersOnly) return timers;
  return Buffer.concat([
    encodeName(key.name),
    u16(CLASS_ANY),
    Buffer.alloc(4), // TTL 0
    encodeName(key.algorithm),
    timers,
    u16(error),
    u16(other.length),
    other,
  ]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(HASHES[key.algorithm] as string, key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The request as signed: without its TSIG, ARCOUNT one less, the original ID (§4.3.3). */
function unsigned(msg: Buffer, t: TsigRecord): Buffer {
  const m = Buffer.from(msg.subarray(0, t.start));
  m.writeUInt16BE(t.originalId, 0);
  m.writeUInt16BE(m.readUInt16BE(10) - 1, 10);
  return m;
}

export type TsigVerdict = { ok: true; key: TsigKey } | { ok: false; error: number; key?: TsigKey; why: string };

/** Checks a signed request against the keys we hold (time: seconds since the epoch). */
export function verifyRequest(msg: Buffer, t: TsigRecord, keys: TsigKey[], nowS: number): TsigVerdict {
  const key = keys.find((k) => k.name === t.keyName && (k.algorithm as string) === t.algorithm);
  if (!key) return { ok: false, error: TSIG_ERROR.BADKEY, why: `no key ${t.keyName} (${t.algorithm})` };
  const want = hmac(key, [unsigned(msg, t), variables(key, t.timeSigned, t.fudge, t.error, t.other, false)]);
  // A truncated MAC shorter than half the hash (or 10 bytes) is refused (§5.2.2.1).
  if (t.mac.length < Math.max(10, want.length / 2) || t.mac.length > want.length)
    return { ok: false, error: TSIG_ERROR.BADSIG, key, why: 'MAC of a length not allowed' };
  if (!timingSafeEqual(t.mac, want.subarray(0, t.mac.length)))
    return { ok: false, error: TSIG_ERROR.BADSIG, key, why: 'MAC does not verify' };
  if (Math.abs(nowS - t.timeSigned) > t.fudge)
    return {
      ok: false,
      error: TSIG_ERROR.BADTIME,
      key,
      why: `time signed ${t.timeSigned} is ${nowS - t.timeSigned} s from ours`,
    };
  return { ok: true, key };
}

/** A TSIG RR (key name uncompressed) with these fields. */
function tsigRR(
  key: TsigKey,
  timeSigned: number,
  mac: Buffer,
  originalId: number,
  error: number,
  other: Buffer,
): Buffer {
  const rdata = Buffer.concat([
    encodeName(key.algorithm),
    u48(timeSigned),
    u16(TSIG_FUDGE_S),
    u16(mac.length),
    mac,
    u16(originalId),
    u16(error),
    u16(other.length),
    other,
  ]);
  return Buffer.concat([
    encodeName(key.name),
    u16(TYPE_TSIG),
    u16(CLASS_ANY),
    Buffer.alloc(4),
    u16(rdata.length),
    rdata,
  ]);
}

/** Appends a TSIG RR to a message (ARCOUNT + 1). */
function withTsig(message: Buffer, rr: Buffer): Buffer {
  const out = Buffer.concat([message, rr]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/**
 * Signs the messages of a response in order: the first over the request's MAC, each later one
 * over the previous message's MAC and only the timers (§5.3.1). `error`/`other`: BADTIME's.
 */
export function signResponse(
  messages: Buffer[],
  key: TsigKey,
  request: TsigRecord,
  nowS: number,
  error = 0,
  other = Buffer.alloc(0),
): Buffer[] {
  let prior = request.mac;
  return messages.map((m, i) => {
    const mac = hmac(key, [u16(prior.length), prior, m, variables(key, nowS, TSIG_FUDGE_S, error, other, i > 0)]);
    prior = mac;
    return withTsig(m, tsigRR(key, nowS, mac, request.originalId, error, other));
  });
}

/** An error response's TSIG: unsigned (no MAC) for BADKEY and BADSIG, as §5.2 says. */
export function unsignedTsigError(message: Buffer, request: TsigRecord, error: number, nowS: number): Buffer {
  const key = { name: request.keyName, algorithm: request.algorithm, secret: Buffer.alloc(0) } as TsigKey;
  return withTsig(message, tsigRR(key, nowS, Buffer.alloc(0), request.originalId, error, Buffer.alloc(0)));
}

export const timeOther = (nowS: number) => u48(nowS);

/** Signs a request we send (a NOTIFY): the MAC over the message and the TSIG variables (§4.3.3). */
export function signRequest(message: Buffer, key: TsigKey, nowS: number): Buffer {
  const id = message.readUInt16BE(0);
  const mac = hmac(key, [message, variables(key, nowS, TSIG_FUDGE_S, 0, Buffer.alloc(0), false)]);
  return withTsig(message, tsigRR(key, nowS, mac, id, 0, Buffer.alloc(0)));
}

/** The MAC of a message we signed (to check the answer against). */
export function macOf(signed: Buffer): Buffer {
  const t = findTsig(signed);
  if (!t) throw new Error('the message is not signed');
  return t.mac;
}

/**
 * Checks the messages of a signed answer to our request, in order (§5.3.1): the first signed over
 * our request's MAC; each later signed one over the previous MAC, the unsigned messages since it
 * and the timers alone; at most 99 unsigned in a row, and the last one signed (`finish`).
 */
export class ResponseVerifier {
  private prior: Buffer;
  private unsignedSince: Buffer[] = [];
  private first = true;

  constructor(
    private readonly key: TsigKey,
    requestMac: Buffer,
  ) {
    this.prior = requestMac;
  }

  /** Throws, with why, when `msg` does not verify. */
  check(msg: Buffer, nowS: number): void {
    const t = findTsig(msg);
    if (!t) {
      if (this.first) throw new Error(`the answer is not signed (key ${this.key.name} expected)`);
      this.unsignedSince.push(msg);
      if (this.unsignedSince.length > 99) throw new Error('more than 99 unsigned messages in a row');
      return;
    }
    if (t.keyName !== this.key.name || t.algorithm !== this.key.algorithm)
      throw new Error(`signed with ${t.keyName} (${t.algorithm}), not ${this.key.name}`);
    if (t.error !== 0) throw new Error(`the primary answered TSIG error ${t.error}`);
    const want = hmac(this.key, [
      u16(this.prior.length),
      this.prior,
      ...this.unsignedSince,
      unsigned(msg, t),
      variables(this.key, t.timeSigned, t.fudge, t.error, t.other, !this.first),
    ]);
    if (t.mac.length < Math.max(10, want.length / 2) || !timingSafeEqual(t.mac, want.subarray(0, t.mac.length)))
      throw new Error('the answer MAC does not verify');
    if (Math.abs(nowS - t.timeSigned) > t.fudge)
      throw new Error(`the answer was signed ${nowS - t.timeSigned} s from our time`);
    this.prior = t.mac;
    this.unsignedSince = [];
    this.first = false;
  }

  /** Throws when the answer ended on unsigned messages. */
  finish(): void {
    if (this.first || this.unsignedSince.length) throw new Error('the last message of the answer is not signed');
  }
}
