// DNS wire format for the authoritative hot path (RFC 1035, 6891 EDNS0, 7871 ECS).
//
// Why not dns2's Packet here: dns2 decodes through a bit-level reader and builds a full
// object graph per packet, throws on several malformed inputs in ways that would need a
// try/catch per field, has no notion of FORMERR-vs-drop, and cannot echo the question
// byte-for-byte. `npm run bench:dns` prints the measured parse cost of both. This module
// parses only what an authoritative server needs, validates all of it, and never throws:
// every outcome is a value.

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
  CAA: 257,
} as const;
export const TYPE_NAME: Record<number, string> = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]));
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;
export const RCODE_NAME: Record<number, string> = Object.fromEntries(Object.entries(RCODE).map(([k, v]) => [v, k]));
export const CLASS_IN = 1;
const OPTION_ECS = 8;

export interface Ecs {
  family: 1 | 2;
  sourcePrefix: number;
  /** The address padded to full length (4 or 16 bytes), bits past the prefix zero. */
  address: Uint8Array;
}

export interface Edns {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
  ecs?: Ecs;
}

export interface Query {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  /** Lower-case presentation name without the trailing dot ('' is the root). */
  qname: string;
  qtype: number;
  qclass: number;
  /** End offset of the question section; bytes 12..questionEnd are echoed verbatim. */
  questionEnd: number;
  edns?: Edns;
}

export type ParseResult =
  | { kind: 'query'; query: Query }
  /** A reply is owed but the query is bad: FORMERR/NOTIMP (question echoed when it parsed). */
  | { kind: 'error'; id: number; opcode: number; rd: boolean; rcode: number; questionEnd: number; edns?: Edns }
  /** Nothing is owed: too short for a header, or a response (QR set), to avoid loops. */
  | { kind: 'drop'; reason: string };

/** Reads a name without compression (as in a question), returning [name, end] or undefined. */
function readQuestionName(buf: Uint8Array, start: number): [string, number] | undefined {
  let pos = start;
  let name = '';
  let wireLen = 0;
  for (;;) {
    if (pos >= buf.length) return undefined;
    const len = buf[pos] as number;
    if (len === 0) return [name, pos + 1];
    if (len > 63) return undefined; // compression pointer or reserved label type
    wireLen += len + 1;
    if (wireLen > 254 || pos + 1 + len > buf.length) return undefined;
    if (name.length) name += '.';
    for (let i = pos + 1; i <= pos + len; i++) {
      const c = buf[i] as number;
      if (c >= 0x41 && c <= 0x5a) name += String.fromCharCode(c + 32);
      else if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2a)
        name += String.fromCharCode(c);
      // Any other byte (including '.') is escaped so it can never alias a configured name.
      else name += `\\${c.toString().padStart(3, '0')}`;
    }
    pos += len + 1;
  }
}

/** Skips a possibly compressed name in a record section; returns the end offset. */
function skipName(buf: Uint8Array, start: number): number {
  let pos = start;
  for (;;) {
    if (pos >= buf.length) return -1;
    const len = buf[pos] as number;
    if (len === 0) return pos + 1;
    if ((len & 0xc0) === 0xc0) return pos + 2 <= buf.length ? pos + 2 : -1;
    if (len > 63) return -1;
    pos += len + 1;
  }
}

const u16 = (b: Uint8Array, o: number): number => (((b[o] as number) << 8) | (b[o + 1] as number)) >>> 0;

export function parseQuery(buf: Uint8Array): ParseResult {
  if (buf.length < 12) return { kind: 'drop', reason: 'shorter than a header' };
  const id = u16(buf, 0);
  const flags = u16(buf, 2);
  if (flags & 0x8000) return { kind: 'drop', reason: 'QR set (a response)' };
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & 0x0100) !== 0;
  const cd = (flags & 0x0010) !== 0;
  const qd = u16(buf, 4);
  const an = u16(buf, 6);
  const ns = u16(buf, 8);
  const ar = u16(buf, 10);
  // An error answer to a query that carried OPT carries OPT too (RFC 6891 §6.1.1), even when
  // that OPT or something else in the query is malformed; a version above 0 is BADVERS first.
  const fail = (rcode: number, questionEnd = 12, edns?: Edns): ParseResult => {
    const seen = edns ?? sniffOpt(buf, qd, an + ns + ar);
    return {
      kind: 'error',
      id,
      opcode,
      rd,
      rcode: seen && seen.version > 0 ? RCODE.BADVERS : rcode,
      questionEnd,
      edns: seen,
    };
  };

  if (opcode !== 0) {
    // NOTIMP; echo the question when it is a well-formed single one.
    const q = qd === 1 ? readQuestionName(buf, 12) : undefined;
    return fail(RCODE.NOTIMP, q && q[1] + 4 <= buf.length ? q[1] + 4 : 12);
  }
  if (qd !== 1) return fail(RCODE.FORMERR);
  const q = readQuestionName(buf, 12);
  if (!q || q[1] + 4 > buf.length) return fail(RCODE.FORMERR);
  const [qname, nameEnd] = q;
  const questionEnd = nameEnd + 4;
  const qtype = u16(buf, nameEnd);
  const qclass = u16(buf, nameEnd + 2);

  // Walk answer/authority (normally empty) and additional records, looking for OPT.
  let pos = questionEnd;
  let edns: Edns | undefined;
  for (let i = 0; i < an + ns + ar; i++) {
    const nameStart = pos;
    pos = skipName(buf, pos);
    if (pos < 0 || pos + 10 > buf.length) return fail(RCODE.FORMERR, questionEnd);
    const type = u16(buf, pos);
    const rdlen = u16(buf, pos + 8);
    const rdata = pos + 10;
    if (rdata + rdlen > buf.length) return fail(RCODE.FORMERR, questionEnd);
    if (type === TYPE.OPT) {
      // RFC 6891: one OPT, owner is the root, only in the additional section.
      if (edns || i < an + ns || buf[nameStart] !== 0) return fail(RCODE.FORMERR, questionEnd);
      const parsed = parseOpt(buf, pos, rdata, rdlen);
      if (!parsed) return fail(RCODE.FORMERR, questionEnd, { ...optHeader(buf, pos) });
      edns = parsed;
      if (edns.version > 0) return fail(RCODE.BADVERS, questionEnd, edns);
    }
    pos = rdata + rdlen;
  }
  if (edns && edns.version > 0) return fail(RCODE.BADVERS, questionEnd, edns);
  return { kind: 'query', query: { id, opcode, rd, cd, qname, qtype, qclass, questionEnd, edns } };
}

/**
 * Finds an OPT record anywhere after the question(s), leniently: for error answers, which must
 * echo OPT even when the query is malformed. Only the fixed fields are read, never options.
 */
function sniffOpt(buf: Uint8Array, qd: number, records: number): Edns | undefined {
  let pos = 12;
  for (let i = 0; i < qd; i++) {
    pos = skipName(buf, pos);
    if (pos < 0 || pos + 4 > buf.length) return undefined;
    pos += 4;
  }
  for (let i = 0; i < records; i++) {
    pos = skipName(buf, pos);
    if (pos < 0 || pos + 10 > buf.length) return undefined;
    if (u16(buf, pos) === TYPE.OPT) return optHeader(buf, pos);
    pos += 10 + u16(buf, pos + 8);
  }
  return undefined;
}

function optHeader(buf: Uint8Array, typePos: number): Edns {
  return {
    udpSize: Math.max(512, u16(buf, typePos + 2)),
    version: buf[typePos + 5] as number,
    dnssecOk: ((buf[typePos + 6] as number) & 0x80) !== 0,
  };
}

function parseOpt(buf: Uint8Array, typePos: number, rdata: number, rdlen: number): Edns | undefined {
  const edns = optHeader(buf, typePos);
  // Options of an unknown EDNS version mean nothing to us: the answer is BADVERS.
  if (edns.version > 0) return edns;
  let pos = rdata;
  const end = rdata + rdlen;
  while (pos < end) {
    if (pos + 4 > end) return undefined;
    const code = u16(buf, pos);
    const len = u16(buf, pos + 2);
    if (pos + 4 + len > end) return undefined;
    if (code === OPTION_ECS) {
      if (edns.ecs) return undefined;
      const ecs = parseEcs(buf, pos + 4, len);
      if (!ecs) return undefined;
      edns.ecs = ecs;
    }
    pos += 4 + len;
  }
  return edns;
}

/** RFC 7871 §6: FORMERR for unknown family, prefix too long, or bits set past the prefix. */
function parseEcs(buf: Uint8Array, start: number, len: number): Ecs | undefined {
  if (len < 4) return undefined;
  const family = u16(buf, start);
  const source = buf[start + 2] as number;
  const bytes = family === 1 ? 4 : family === 2 ? 16 : 0;
  if (!bytes || source > bytes * 8) return undefined;
  const addrLen = len - 4;
  if (addrLen !== Math.ceil(source / 8)) return undefined;
  const address = new Uint8Array(bytes);
  for (let i = 0; i < addrLen; i++) address[i] = buf[start + 4 + i] as number;
  if (source % 8 !== 0 && addrLen > 0) {
    const mask = 0xff >> (source % 8);
    if (((address[addrLen - 1] as number) & mask) !== 0) return undefined;
  }
  return { family: family as 1 | 2, sourcePrefix: source, address };
}

/** Encodes a presentation name (no trailing dot) as uncompressed wire labels. */
export function encodeName(name: string): Buffer {
  if (name === '') return Buffer.from([0]);
  const parts = name.split('.');
  const out = Buffer.alloc(name.length + 2);
  let pos = 0;
  for (const p of parts) {
    out[pos++] = p.length;
    pos += out.write(p, pos, 'latin1');
  }
  out[pos++] = 0;
  return out.subarray(0, pos);
}

/**
 * Builds one response into a preallocated buffer. Names are compressed against the
 * question (so owner names keep the asker's 0x20 case) and against names already written.
 */
export class ResponseWriter {
  private readonly buf: Buffer;
  private pos = 0;
  private readonly names = new Map<string, number>();
  counts = [0, 0, 0, 0];

  constructor(capacity = 65535) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Starts a response: header plus the question bytes echoed from the query. */
  begin(query: Uint8Array, id: number, flags: number, questionEnd: number, qname: string | undefined): void {
    this.pos = 0;
    this.names.clear();
    this.qname = this.query = undefined;
    this.counts[0] = this.counts[1] = this.counts[2] = this.counts[3] = 0;
    this.buf.writeUInt16BE(id, 0);
    this.buf.writeUInt16BE(flags, 2);
    this.buf.fill(0, 4, 12);
    this.pos = 12;
    if (questionEnd > 12) {
      this.buf.set(query.subarray(12, questionEnd), 12);
      this.pos = questionEnd;
      this.counts[0] = 1;
      if (qname !== undefined && qname !== '' && !qname.includes('\\')) {
        this.qname = qname;
        this.query = query;
      }
    }
  }

  private qname?: string;
  private query?: Uint8Array;

  /** Question-name suffixes are registered on first need: most answers only use the whole name. */
  private registerQuestionName(): void {
    const qname = this.qname as string;
    const query = this.query as Uint8Array;
    this.qname = this.query = undefined;
    // Suffix i of the lower-case name starts at the i-th label of the question.
    let off = 12;
    let rest = qname;
    for (;;) {
      this.names.set(rest, off);
      off += (query[off] as number) + 1;
      const dot = rest.indexOf('.');
      if (dot < 0) break;
      rest = rest.slice(dot + 1);
    }
  }

  get length(): number {
    return this.pos;
  }

  /** Writes a domain name, compressing with any suffix already in the message. */
  name(name: string): void {
    if (this.qname !== undefined) {
      if (name === this.qname) {
        this.buf.writeUInt16BE(0xc00c, this.pos);
        this.pos += 2;
        return;
      }
      this.registerQuestionName();
    }
    let rest = name;
    for (;;) {
      if (rest === '') {
        this.buf[this.pos++] = 0;
        return;
      }
      const at = this.names.get(rest);
      if (at !== undefined) {
        this.buf.writeUInt16BE(0xc000 | at, this.pos);
        this.pos += 2;
        return;
      }
      if (this.pos < 0x3fff) this.names.set(rest, this.pos);
      const dot = rest.indexOf('.');
      const label = dot < 0 ? rest : rest.slice(0, dot);
      this.buf[this.pos++] = label.length;
      this.pos += this.buf.write(label, this.pos, 'latin1');
      rest = dot < 0 ? '' : rest.slice(dot + 1);
    }
  }

  /** Writes a resource record with pre-encoded RDATA; `section` 1=answer 2=authority 3=additional. */
  record(section: 1 | 2 | 3, owner: string, type: number, ttl: number, rdata: Uint8Array): void {
    this.name(owner);
    this.buf.writeUInt16BE(type, this.pos);
    this.buf.writeUInt16BE(CLASS_IN, this.pos + 2);
    this.buf.writeUInt32BE(ttl >>> 0, this.pos + 4);
    this.buf.writeUInt16BE(rdata.length, this.pos + 8);
    this.buf.set(rdata, this.pos + 10);
    this.pos += 10 + rdata.length;
    this.counts[section] = (this.counts[section] as number) + 1;
  }

  /** A record whose RDATA is a single domain name (CNAME, NS), compressed. */
  nameRecord(section: 1 | 2 | 3, owner: string, type: number, ttl: number, target: string): void {
    this.name(owner);
    this.buf.writeUInt16BE(type, this.pos);
    this.buf.writeUInt16BE(CLASS_IN, this.pos + 2);
    this.buf.writeUInt32BE(ttl >>> 0, this.pos + 4);
    const lenAt = this.pos + 8;
    this.pos += 10;
    const start = this.pos;
    this.name(target);
    this.buf.writeUInt16BE(this.pos - start, lenAt);
    this.counts[section] = (this.counts[section] as number) + 1;
  }

  /** The OPT pseudo-record; `extRcode` is the upper 8 bits of a 12-bit RCODE. */
  opt(udpSize: number, extRcode: number, dnssecOk: boolean, ecs?: { ecs: Ecs; scope: number }): void {
    const b = this.buf;
    b[this.pos] = 0;
    b.writeUInt16BE(TYPE.OPT, this.pos + 1);
    b.writeUInt16BE(udpSize, this.pos + 3);
    b[this.pos + 5] = extRcode;
    b[this.pos + 6] = 0; // version 0
    b[this.pos + 7] = dnssecOk ? 0x80 : 0;
    b[this.pos + 8] = 0;
    let p = this.pos + 11;
    if (ecs) {
      const addrLen = Math.ceil(ecs.ecs.sourcePrefix / 8);
      b.writeUInt16BE(OPTION_ECS, p);
      b.writeUInt16BE(4 + addrLen, p + 2);
      b.writeUInt16BE(ecs.ecs.family, p + 4);
      b[p + 6] = ecs.ecs.sourcePrefix;
      b[p + 7] = ecs.scope;
      b.set(ecs.ecs.address.subarray(0, addrLen), p + 8);
      p += 8 + addrLen;
    }
    b.writeUInt16BE(p - this.pos - 11, this.pos + 9);
    this.pos = p;
    this.counts[3] = (this.counts[3] as number) + 1;
  }

  /** Drops everything after the question (for truncation) keeping the header. */
  truncateTo(questionEnd: number): void {
    this.pos = questionEnd;
    this.counts[1] = this.counts[2] = this.counts[3] = 0;
  }

  setFlags(flags: number): void {
    this.buf.writeUInt16BE(flags, 2);
  }

  /** Copies the finished message out (the internal buffer is reused). */
  finish(): Buffer {
    for (let i = 0; i < 4; i++) this.buf.writeUInt16BE(this.counts[i] as number, 4 + i * 2);
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

export interface QueryOptions {
  id?: number;
  rd?: boolean;
  /** Add an OPT record (EDNS0); implied by `ecs`. */
  edns?: { udpSize?: number; version?: number; dnssecOk?: boolean };
  ecs?: { address: Uint8Array; sourcePrefix: number };
}

/** Builds a query message (used by explain, tests and benchmarks). */
export function buildQuery(name: string, qtype: number, opts: QueryOptions = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id ?? 0, 0);
  header.writeUInt16BE(opts.rd ? 0x0100 : 0, 2);
  header.writeUInt16BE(1, 4);
  const question = Buffer.concat([encodeName(name.replace(/\.$/, '')), Buffer.from([qtype >> 8, qtype & 0xff, 0, 1])]);
  const parts = [header, question];
  if (opts.edns || opts.ecs) {
    header.writeUInt16BE(1, 10);
    let options = Buffer.alloc(0);
    if (opts.ecs) {
      const addrLen = Math.ceil(opts.ecs.sourcePrefix / 8);
      options = Buffer.alloc(8 + addrLen);
      options.writeUInt16BE(OPTION_ECS, 0);
      options.writeUInt16BE(4 + addrLen, 2);
      options.writeUInt16BE(opts.ecs.address.length === 4 ? 1 : 2, 4);
      options[6] = opts.ecs.sourcePrefix;
      Buffer.from(opts.ecs.address.subarray(0, addrLen)).copy(options, 8);
      // Clear host bits past the prefix, as RFC 7871 requires of senders.
      if (opts.ecs.sourcePrefix % 8 && addrLen)
        options[8 + addrLen - 1] = (options[8 + addrLen - 1] as number) & (0xff << (8 - (opts.ecs.sourcePrefix % 8)));
    }
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(TYPE.OPT, 1);
    opt.writeUInt16BE(opts.edns?.udpSize ?? 1232, 3);
    opt[6] = opts.edns?.version ?? 0;
    opt[7] = opts.edns?.dnssecOk ? 0x80 : 0;
    opt.writeUInt16BE(options.length, 9);
    parts.push(opt, options);
  }
  return Buffer.concat(parts);
}
