// Zone transfers in, as a secondary (RFC 5936 AXFR, RFC 1995 IXFR): the requests, reading the
// stream of answer records into a full zone or a list of changes, applying them to the copy
// kept, and that copy as a master file (what is kept on disk). Pure: messages and text in and
// out; sockets, timers and files are src/dns/secondary.ts.
import { TYPE, encodeName, buildQuery, recordLine, type ReadResponse, type TextRecord } from '../wire/index.js';
import { serialAfter } from './serial-rule.js';
import { rrBytes } from './transfer.js';

/** A zone as a secondary keeps it: its SOA, and every other record by its key (owner, type, RDATA). */
export interface KeptZone {
  soa: TextRecord;
  records: Map<string, TextRecord>;
}

/** What a transfer brought: nothing new, the whole zone, or the changes from our serial on. */
export type TransferResult =
  | { kind: 'current'; serial: number }
  | { kind: 'full'; soa: TextRecord; records: TextRecord[] }
  | {
      kind: 'incremental';
      soa: TextRecord;
      steps: { from: number; to: TextRecord; deleted: TextRecord[]; added: TextRecord[] }[];
    };

/** At most this many records in one transfer (a primary streaming without end is cut off). */
export const MAX_TRANSFER_RECORDS = 5_000_000;

export const keyOf = (r: TextRecord): string => `${r.owner} ${r.type} ${r.rdata}`;

/** The serial in an SOA record's presentation RDATA (mname rname serial ...). */
export function soaSerial(soa: TextRecord): number {
  return Number(soa.rdata.split(' ')[2]);
}

/** An SOA query for the zone (the refresh check). */
export const soaQuery = (zone: string, id: number): Buffer => buildQuery(zone, TYPE.SOA, { id });

/** An AXFR request, or an IXFR request carrying the SOA we have in its authority section (RFC 1995 §3). */
export function transferRequest(zone: string, id: number, have?: TextRecord): Buffer {
  const query = buildQuery(zone, have ? TYPE.IXFR : TYPE.AXFR, { id });
  if (!have) return query;
  const [mname, rname, ...timers] = have.rdata.split(' ');
  const fixed = Buffer.alloc(20);
  timers.forEach((t, i) => fixed.writeUInt32BE(Number(t) >>> 0, i * 4));
  const rdata = Buffer.concat([encodeName(bare(mname)), encodeName(bare(rname)), fixed]);
  const out = Buffer.concat([query, rrBytes({ name: zone, type: TYPE.SOA, ttl: 0, rdata })]);
  out.writeUInt16BE(1, 8); // NSCOUNT
  return out;
}

const bare = (name = '') => name.replace(/\.$/, '');

/**
 * Reads a transfer's messages in order (`add` each): knows when the stream is complete and what
 * it was. Every message must answer for the zone with NOERROR; the first record must be the
 * zone's SOA. Throws, with why, on anything else.
 */
export class TransferReader {
  private readonly records: TextRecord[] = [];
  private messages = 0;
  result?: TransferResult;

  constructor(
    private readonly zone: string,
    private readonly ixfrFrom?: number,
  ) {}

  /** One message of the answer; true when the transfer is complete. */
  add(m: ReadResponse): boolean {
    if (this.result) throw new Error('a message after the transfer was complete');
    if (m.rcode !== 0) throw new Error(`the primary answered rcode ${m.rcode}`);
    if (this.messages++ === 0 && m.qname !== this.zone) throw new Error(`an answer for ${m.qname}, not ${this.zone}`);
    for (const r of m.answers) this.records.push(r);
    if (this.records.length > MAX_TRANSFER_RECORDS) throw new Error(`more than ${MAX_TRANSFER_RECORDS} records`);
    const first = this.records[0];
    if (!first) throw new Error('an answer without records');
    if (first.type !== TYPE.SOA || first.owner !== this.zone) throw new Error('the first record is not the zone SOA');
    this.result = this.complete(first);
    return this.result !== undefined;
  }

  /** The stream's meaning once it is whole (RFC 1995 §4, RFC 5936 §2.2), else undefined. */
  private complete(first: TextRecord): TransferResult | undefined {
    const rs = this.records;
    const serial = soaSerial(first);
    const isSoa = (r: TextRecord | undefined) => r?.type === TYPE.SOA;
    if (rs.length === 1) {
      // A lone SOA: the primary has nothing newer than what an IXFR said we have.
      if (this.ixfrFrom !== undefined && !serialAfter(serial, this.ixfrFrom)) return { kind: 'current', serial };
      return undefined;
    }
    const last = rs[rs.length - 1] as TextRecord;
    if (!isSoa(last) || soaSerial(last) !== serial) return undefined;
    if (this.ixfrFrom === undefined || !isSoa(rs[1]) || rs.length === 2)
      return { kind: 'full', soa: first, records: rs.slice(1, -1).filter((r) => !isSoa(r)) };
    return this.incremental(first, serial);
  }

  /** SOA new, then (SOA old, deleted..., SOA next, added...) for each change, then SOA new. */
  private incremental(first: TextRecord, serial: number): TransferResult | undefined {
    const rs = this.records;
    const steps: Extract<TransferResult, { kind: 'incremental' }>['steps'] = [];
    let i = 1;
    while (i < rs.length - 1) {
      const from = rs[i++] as TextRecord;
      if (from.type !== TYPE.SOA) throw new Error('an IXFR change that does not start with an SOA');
      const deleted: TextRecord[] = [];
      while (i < rs.length && rs[i]?.type !== TYPE.SOA) deleted.push(rs[i++] as TextRecord);
      const to = rs[i++];
      if (!to) return undefined;
      const added: TextRecord[] = [];
      while (i < rs.length && rs[i]?.type !== TYPE.SOA) added.push(rs[i++] as TextRecord);
      steps.push({ from: soaSerial(from), to, deleted, added });
      // The final SOA is the stream's last record, after the change that reaches the new serial.
      if (soaSerial(to) === serial) return i === rs.length - 1 ? { kind: 'incremental', soa: first, steps } : undefined;
    }
    return undefined;
  }
}

/** The zone a full transfer gives. */
export function keptOf(result: Extract<TransferResult, { kind: 'full' }>): KeptZone {
  return { soa: result.soa, records: new Map(result.records.map((r) => [keyOf(r), r])) };
}

/**
 * The zone after an IXFR's changes, applied in order to a copy: each change must start at the
 * serial we are at and delete only records we have, else the copy is not the primary's and the
 * caller falls back to AXFR (the error says why).
 */
export function applyChanges(kept: KeptZone, result: Extract<TransferResult, { kind: 'incremental' }>): KeptZone {
  const records = new Map(kept.records);
  let serial = soaSerial(kept.soa);
  for (const step of result.steps) {
    if (step.from !== serial) throw new Error(`an IXFR change from serial ${step.from}; we are at ${serial}`);
    for (const r of step.deleted)
      if (!records.delete(keyOf(r))) throw new Error(`an IXFR deletes ${recordLine(r)}, which we do not have`);
    for (const r of step.added) records.set(keyOf(r), r);
    serial = soaSerial(step.to);
  }
  return { soa: result.soa, records };
}

/** The kept zone as a master file (its SOA first, then the records in a stable order). */
export function masterFileOf(zone: string, kept: KeptZone, from: string): string {
  const lines = [...kept.records.values()].map(recordLine).sort();
  return [
    `; ${zone}: a secondary's copy, transferred from ${from} by gtm dns. Change the zone on its primary, not here.`,
    recordLine(kept.soa),
    ...lines,
    '',
  ].join('\n');
}

/** A kept zone read back from masterFileOf's text (one record a line, absolute, tab-separated). */
export function keptFromMasterFile(text: string, zone: string): KeptZone {
  let soa: TextRecord | undefined;
  const records = new Map<string, TextRecord>();
  for (const [n, line] of text.split('\n').entries()) {
    if (!line || line.startsWith(';')) continue;
    const [owner, ttl, klass, type, rdata] = line.split('\t');
    const code = typeCode(type ?? '');
    if (
      !owner?.endsWith('.') ||
      klass !== 'IN' ||
      code === undefined ||
      rdata === undefined ||
      !/^\d+$/.test(ttl ?? '')
    )
      throw new Error(`line ${n + 1} is not a record as gtm dns writes it`);
    const r: TextRecord = { owner: owner.slice(0, -1), type: code, ttl: Number(ttl), rdata };
    if (code === TYPE.SOA && r.owner === zone) soa = r;
    else records.set(keyOf(r), r);
  }
  if (!soa) throw new Error(`no SOA for ${zone}`);
  return { soa, records };
}

function typeCode(type: string): number | undefined {
  const m = /^TYPE(\d+)$/.exec(type);
  if (m) return Number(m[1]);
  return (TYPE as Record<string, number>)[type];
}
