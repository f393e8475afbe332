// DNS wire format for the authoritative hot path (RFC 1035, 6891 EDNS0, 7871 ECS).
//
// Why not dns2's Packet here: dns2 decodes through a bit-level reader and builds a full
// object graph per packet, throws on several malformed inputs in ways that would need a
// try/catch per field, has no notion of FORMERR-vs-drop, and cannot echo the question
// byte-for-byte. `npm run bench:dns` prints the measured parse cost of both. This module
// parses only what an authoritative server needs, validates all of it, and never throws:
// every outcome is a value.

import { OPCODE, TYPE, RCODE, OPTION_COOKIE, OPTION_ECS, OPTION_NSID, type Ecs, type Edns } from './rr.js';

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
  /** A NOTIFY (RFC 1996, opcode 4) with one well-formed question: the zone it names. */
  | { kind: 'notify'; id: number; rd: boolean; qname: string; qtype: number; questionEnd: number; edns?: Edns }
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

/** Skips a possibly compressed name in a record section; returns the end offset (-1: runs past the end). */
export function skipName(buf: Uint8Array, start: number): number {
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
    const seen = edns ?? sniffOpt(buf, qd, an + ns + ar)?.edns;
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
    // NOTIMP; echo the question when it is a well-formed single one. A malformed OPT is
    // FORMERR first (as gdnsd answers), an unknown EDNS version BADVERS first of all.
    const q = qd === 1 ? readQuestionName(buf, 12) : undefined;
    const opt = sniffOpt(buf, qd, an + ns + ar);
    if (opcode === OPCODE.NOTIFY && q && q[1] + 4 <= buf.length && !opt?.malformed && !(opt && opt.edns.version > 0))
      return { kind: 'notify', id, rd, qname: q[0], qtype: u16(buf, q[1]), questionEnd: q[1] + 4, edns: opt?.edns };
    return fail(opt?.malformed ? RCODE.FORMERR : RCODE.NOTIMP, q && q[1] + 4 <= buf.length ? q[1] + 4 : 12, opt?.edns);
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
function sniffOpt(buf: Uint8Array, qd: number, records: number): { edns: Edns; malformed: boolean } | undefined {
  let pos = 12;
  for (let i = 0; i < qd; i++) {
    pos = skipName(buf, pos);
    if (pos < 0 || pos + 4 > buf.length) return undefined;
    pos += 4;
  }
  for (let i = 0; i < records; i++) {
    pos = skipName(buf, pos);
    if (pos < 0 || pos + 10 > buf.length) return undefined;
    if (u16(buf, pos) === TYPE.OPT) {
      const rdlen = u16(buf, pos + 8);
      const full = pos + 10 + rdlen <= buf.length ? parseOpt(buf, pos, pos + 10, rdlen) : undefined;
      return { edns: full ?? optHeader(buf, pos), malformed: !full };
    }
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
    if (code === OPTION_NSID) edns.nsid = true;
    if (code === OPTION_COOKIE) {
      // A client cookie alone (8 bytes), or with a server cookie of 8 to 32: anything else,
      // or a second COOKIE option, is FORMERR (RFC 7873 §5.2.2).
      if (edns.cookie || (len !== 8 && (len < 16 || len > 40))) return undefined;
      edns.cookie = {
        client: buf.slice(pos + 4, pos + 12),
        ...(len > 8 ? { server: buf.slice(pos + 12, pos + 4 + len) } : {}),
      };
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
