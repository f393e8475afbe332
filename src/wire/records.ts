// Reading a response's answer records into presentation form (RFC 1035 §5): what a zone
// transfer brings in (src/dns/xfr-in.ts), one canonical text per record so the same bytes always
// read the same (IXFR deletions are matched by it). Throws on a malformed message, with why.
import { TYPE, TYPE_NAME } from './rr.js';

/** A record as a master file line gives it: owner (absolute, lower case, no trailing dot), type, TTL, RDATA. */
export interface TextRecord {
  owner: string;
  type: number;
  ttl: number;
  /** Presentation form; RFC 3597's `\# LENGTH HEX` for a type read as opaque bytes. */
  rdata: string;
}

export interface ReadResponse {
  id: number;
  /** The header's flags word (QR, opcode, AA, TC, RD, RA, rcode). */
  flags: number;
  rcode: number;
  /** The question's name ('' when the message has none). */
  qname: string;
  answers: TextRecord[];
  /** Records of types a secondary does not keep, by type: counted, not read. */
  skipped: Map<number, number>;
}

/**
 * Types not kept from a transfer: the DNSSEC records (this server signs what it serves), DNAME
 * (not served), ZONEMD (it would not match what we serve), meta types, and the obsolete RFC 1035
 * types whose RDATA names may be compressed (MD, MF, MB, MG, MR, MINFO: unreadable as opaque bytes).
 */
const NOT_KEPT = new Set([0, 3, 4, 7, 8, 9, 14, 39, 41, 46, 47, 48, 50, 51, 63]);
export const keptType = (type: number): boolean => !NOT_KEPT.has(type) && !(type >= 128 && type <= 255);

/** Reads a possibly compressed name: [name, offset after it in place]. Pointers go backwards only. */
function readName(msg: Buffer, start: number): [string, number] {
  const labels: string[] = [];
  let pos = start;
  let end = -1;
  let length = 1;
  for (;;) {
    const len = msg[pos];
    if (len === undefined) throw new Error('a name runs past the end of the message');
    if (len === 0) break;
    if ((len & 0xc0) === 0xc0) {
      const to = ((len & 0x3f) << 8) | (msg[pos + 1] ?? 0);
      if (to >= pos) throw new Error('a compression pointer that does not point backwards');
      if (end < 0) end = pos + 2;
      pos = to;
      continue;
    }
    if (len > 63) throw new Error('a label type that is not defined');
    if (pos + 1 + len > msg.length) throw new Error('a label runs past the end of the message');
    length += len + 1;
    if (length > 255) throw new Error('a name longer than 255 bytes');
    labels.push(labelText(msg.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  return [labels.join('.'), end < 0 ? pos + 1 : end];
}

/** A label in presentation form: lower case, odd bytes (dots, blanks, quotes) as \DDD. */
function labelText(b: Buffer): string {
  let s = '';
  for (const c of b) {
    const lower = c >= 0x41 && c <= 0x5a ? c + 32 : c;
    const plain =
      (lower >= 0x61 && lower <= 0x7a) || (lower >= 0x30 && lower <= 0x39) || lower === 0x2d || lower === 0x5f;
    s += plain || (lower === 0x2a && b.length === 1) ? String.fromCharCode(lower) : `\\${String(c).padStart(3, '0')}`;
  }
  return s;
}

const fq = (name: string) => `${name}.`;

/** A character-string quoted, with ", \ and bytes outside printable ASCII escaped (\DDD). */
export function quoted(b: Uint8Array): string {
  let out = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c < 0x20 || c > 0x7e) out += `\\${String(c).padStart(3, '0')}`;
    else out += String.fromCharCode(c);
  }
  return `${out}"`;
}

/** RDATA in presentation form for the types the server reads in their own form, else RFC 3597's. */
function rdataText(msg: Buffer, type: number, start: number, len: number): string {
  const end = start + len;
  const name = (at: number): [string, number] => {
    const [n, after] = readName(msg, at);
    if (after > end) throw new Error(`a ${TYPE_NAME[type] ?? type} RDATA name runs past its length`);
    return [fq(n), after];
  };
  const need = (n: number) => {
    if (len < n) throw new Error(`a ${TYPE_NAME[type] ?? type} RDATA of ${len} bytes is too short`);
  };
  switch (type) {
    case TYPE.A:
      if (len !== 4) throw new Error(`an A RDATA of ${len} bytes`);
      return [...msg.subarray(start, end)].join('.');
    case TYPE.AAAA: {
      if (len !== 16) throw new Error(`an AAAA RDATA of ${len} bytes`);
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(msg.readUInt16BE(start + i).toString(16));
      return groups.join(':');
    }
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR:
      return exact(name(start), end)[0];
    case TYPE.SOA: {
      const [mname, a] = name(start);
      const [rname, b] = name(a);
      if (b + 20 !== end) throw new Error('an SOA RDATA of the wrong length');
      const timers = [0, 4, 8, 12, 16].map((o) => msg.readUInt32BE(b + o));
      return [mname, rname, ...timers].join(' ');
    }
    case TYPE.MX: {
      need(3);
      return `${msg.readUInt16BE(start)} ${exact(name(start + 2), end)[0]}`;
    }
    case TYPE.SRV: {
      need(7);
      const [p, w, port] = [0, 2, 4].map((o) => msg.readUInt16BE(start + o));
      return `${p} ${w} ${port} ${exact(name(start + 6), end)[0]}`;
    }
    case TYPE.TXT: {
      const strings: string[] = [];
      for (let pos = start; pos < end;) {
        const n = msg[pos] as number;
        if (pos + 1 + n > end) throw new Error('a TXT string runs past its RDATA');
        strings.push(quoted(msg.subarray(pos + 1, pos + 1 + n)));
        pos += 1 + n;
      }
      if (!strings.length) throw new Error('a TXT RDATA without a string');
      return strings.join(' ');
    }
    case TYPE.CAA: {
      need(2);
      const tagLen = msg[start + 1] as number;
      if (2 + tagLen > len || tagLen === 0) throw new Error('a CAA tag runs past its RDATA');
      const tag = msg.toString('latin1', start + 2, start + 2 + tagLen);
      if (!/^[A-Za-z0-9]+$/.test(tag)) throw new Error('a CAA tag that is not letters and digits');
      return `${msg[start]} ${tag} ${quoted(msg.subarray(start + 2 + tagLen, end))}`;
    }
    case TYPE.DS: {
      need(5);
      const digest = msg.toString('hex', start + 4, end).toUpperCase();
      return `${msg.readUInt16BE(start)} ${msg[start + 2]} ${msg[start + 3]} ${digest}`;
    }
    default:
      return `\\# ${len}${len ? ` ${msg.toString('hex', start, end)}` : ''}`;
  }
}

function exact(read: [string, number], end: number): [string, number] {
  if (read[1] !== end) throw new Error('RDATA longer than its name');
  return read;
}

/** The header, the question's name and the answer records of a response (class IN only). */
export function readResponse(msg: Buffer): ReadResponse {
  if (msg.length < 12) throw new Error('a message shorter than a header');
  const flags = msg.readUInt16BE(2);
  const [qd, an] = [msg.readUInt16BE(4), msg.readUInt16BE(6)];
  let pos = 12;
  let qname = '';
  for (let i = 0; i < qd; i++) {
    const [n, after] = readName(msg, pos);
    if (i === 0) qname = n;
    pos = after + 4;
  }
  const answers: TextRecord[] = [];
  const skipped = new Map<number, number>();
  for (let i = 0; i < an; i++) {
    const [owner, after] = readName(msg, pos);
    if (after + 10 > msg.length) throw new Error('a record runs past the end of the message');
    const type = msg.readUInt16BE(after);
    const klass = msg.readUInt16BE(after + 2);
    const ttl = msg.readUInt32BE(after + 4);
    const len = msg.readUInt16BE(after + 8);
    const rdata = after + 10;
    pos = rdata + len;
    if (pos > msg.length) throw new Error('a record runs past the end of the message');
    if (klass !== 1) throw new Error(`a record of class ${klass} (only IN is served)`);
    if (!keptType(type)) {
      skipped.set(type, (skipped.get(type) ?? 0) + 1);
      continue;
    }
    // TTLs above 2^31 - 1 are read as 0 (RFC 2181 §8).
    answers.push({ owner, type, ttl: ttl > 0x7fffffff ? 0 : ttl, rdata: rdataText(msg, type, rdata, len) });
  }
  return { id: msg.readUInt16BE(0), flags, rcode: flags & 0xf, qname, answers, skipped };
}

/** A record as a master file line: absolute owner, TTL, class, type (TYPEnnn when unnamed), RDATA. */
export function recordLine(r: TextRecord): string {
  const type = r.type !== TYPE.SOA && isGeneric(r) ? `TYPE${r.type}` : (TYPE_NAME[r.type] ?? `TYPE${r.type}`);
  return `${fq(r.owner)}\t${r.ttl}\tIN\t${type}\t${r.rdata}`;
}

const isGeneric = (r: TextRecord) => r.rdata.startsWith('\\# ');
