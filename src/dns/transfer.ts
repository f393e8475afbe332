// Outgoing zone transfers (AXFR, RFC 5936) over TCP: the whole zone as a series of messages,
// SOA first and last. A secondary cannot steer, so a steered name goes out as its `transfer_as`
// says (every pool address by default; what `gtm zone export` writes too). IXFR (RFC 1995): see
// ixfr.ts. Who may transfer is the zone's
// `transfer.allow` list of prefixes; anyone else is REFUSED and learns nothing. Pure: bytes in,
// messages out; the server writes them.
import { ipv4Bytes, ipv6Bytes } from '../net/index.js';
import { TYPE, RCODE, encodeName, type Query } from '../wire/index.js';
import { nodeOf, type CompiledZone } from './zone.js';
import { httpsRendition, secondaryAddresses } from './zone-export.js';

export interface TransferRR {
  name: string;
  type: number;
  ttl: number;
  rdata: Uint8Array;
}

/** A message's size limit: well under TCP DNS's 65,535 bytes, as servers commonly send. */
export const AXFR_MESSAGE_BYTES = 16_384;

/** The zone's SOA as a transfer record. */
export function soaRecord(z: CompiledZone): TransferRR {
  const apex = z.zone.name;
  const soaSet = nodeOf(z, apex)?.sets.find((s) => s.type === TYPE.SOA);
  if (!soaSet) throw new Error(`zone ${apex} has no SOA`);
  return { name: apex, type: TYPE.SOA, ttl: soaSet.ttl, rdata: soaSet.rdata[0] as Uint8Array };
}

/** Every record of the zone in transfer order: SOA, the rest name by name, SOA again. */
export function transferRecords(z: CompiledZone): TransferRR[] {
  const soa = soaRecord(z);
  const out = [soa];
  for (const name of [...z.nodes.keys()].sort()) {
    const node = nodeOf(z, name);
    if (!node) continue;
    for (const set of node.sets) {
      if (set.type === TYPE.SOA) continue;
      for (const rdata of set.rdata) out.push({ name, type: set.type, ttl: set.ttl, rdata });
    }
    const svc = node.service;
    if (!svc) continue;
    const { a, aaaa, alias } = secondaryAddresses(svc, z.zone.transferUp);
    if (alias) {
      out.push({ name, type: TYPE.CNAME, ttl: svc.ttl, rdata: encodeName(alias) });
      continue;
    }
    for (const addr of a) out.push({ name, type: TYPE.A, ttl: svc.ttl, rdata: ipv4Bytes(addr) });
    for (const addr of aaaa) out.push({ name, type: TYPE.AAAA, ttl: svc.ttl, rdata: ipv6Bytes(addr) });
    if (svc.https) out.push({ name, type: TYPE.HTTPS, ttl: svc.ttl, rdata: httpsRendition(svc.https, a, aaaa) });
  }
  out.push(soa);
  return out;
}

/** One record in wire form, its name uncompressed (transfers, NOTIFY). */
export function rrBytes(r: TransferRR): Buffer {
  const name = encodeName(r.name);
  const b = Buffer.allocUnsafe(name.length + 10 + r.rdata.length);
  Buffer.from(name).copy(b, 0);
  let o = name.length;
  b.writeUInt16BE(r.type, o);
  b.writeUInt16BE(1, o + 2); // IN
  b.writeUInt32BE(r.ttl >>> 0, o + 4);
  b.writeUInt16BE(r.rdata.length, o + 8);
  Buffer.from(r.rdata.buffer, r.rdata.byteOffset, r.rdata.length).copy(b, o + 10);
  return b;
}

function header(q: Query, rcode: number, questions: number, answers: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(q.id, 0);
  // QR, opcode QUERY, AA; RD copied; no recursion available.
  h.writeUInt16BE(0x8400 | (q.rd ? 0x0100 : 0) | rcode, 2);
  h.writeUInt16BE(questions, 4);
  h.writeUInt16BE(answers, 6);
  return h;
}

/** The question as asked (name, type, class), echoed in the first message. */
const questionOf = (msg: Uint8Array, q: Query) => Buffer.from(msg.buffer, msg.byteOffset + 12, q.questionEnd - 12);

/** The transfer's messages: the question in the first, records packed up to the size limit. */
export function axfrMessages(msg: Uint8Array, q: Query, records: TransferRR[], max = AXFR_MESSAGE_BYTES): Buffer[] {
  const out: Buffer[] = [];
  let question: Buffer | undefined = questionOf(msg, q);
  let parts: Buffer[] = [];
  let size = 12 + question.length;
  const flush = () => {
    out.push(
      Buffer.concat([
        header(q, RCODE.NOERROR, question ? 1 : 0, parts.length),
        ...(question ? [question] : []),
        ...parts,
      ]),
    );
    question = undefined;
    parts = [];
    size = 12;
  };
  for (const r of records) {
    const b = rrBytes(r);
    if (parts.length && size + b.length > max) flush();
    parts.push(b);
    size += b.length;
  }
  if (parts.length) flush();
  return out;
}

/** A one-message refusal (REFUSED, NOTAUTH...) with the question echoed and nothing else. */
export function transferRefusal(msg: Uint8Array, q: Query, rcode: number): Buffer {
  return Buffer.concat([header(q, rcode, 1, 0), questionOf(msg, q)]);
}

export const isTransfer = (q: Query) => q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR;
