// Incremental zone transfers (IXFR, RFC 1995) from kept history. Each worker keeps, per
// transferable zone, the differences between the versions it has served (from one reload to the
// next: deleted and added records, with the SOA before and after). An IXFR whose serial is in
// that history gets the steps from there on; one that is current gets the SOA alone; one that is
// older than the history (or a worker started since) gets the whole zone in AXFR form, as §4
// allows, and the transfer event says so. Pure.
import { TYPE, skipName, type Query } from '../wire/index.js';
import type { TransferRR } from './transfer.js';

/** One change of a zone: the SOA before and after, and the records that went and came. */
export interface ZoneStep {
  from: TransferRR;
  to: TransferRR;
  deleted: TransferRR[];
  added: TransferRR[];
}

/** How many changes are kept per zone, and how many changed records in all. */
export const HISTORY_STEPS = 20;
export const HISTORY_RECORDS = 200_000;

/** The unsigned 32-bit number at `o` (a serial). */
const u32 = (b: Uint8Array, o: number): number =>
  ((b[o] as number) * 2 ** 24 + ((b[o + 1] as number) << 16) + ((b[o + 2] as number) << 8) + (b[o + 3] as number)) >>>
  0;

export const serialOf = (soa: TransferRR): number => {
  // RDATA: MNAME and RNAME (uncompressed in our records), then SERIAL.
  let p = 0;
  for (let names = 0; names < 2; p++)
    if (soa.rdata[p] === 0) names++;
    else p += soa.rdata[p] as number;
  return u32(soa.rdata, p);
};

/** The serial in an IXFR request's authority SOA (RFC 1995 §3), or undefined when it has none. */
export function requestedSerial(msg: Uint8Array, q: Query): number | undefined {
  const an = (((msg[6] as number) << 8) | (msg[7] as number)) >>> 0;
  const ns = (((msg[8] as number) << 8) | (msg[9] as number)) >>> 0;
  if (an !== 0 || ns < 1) return undefined;
  let pos = skipName(msg, q.questionEnd);
  if (pos < 0 || pos + 10 > msg.length) return undefined;
  if ((((msg[pos] as number) << 8) | (msg[pos + 1] as number)) !== TYPE.SOA) return undefined;
  const end = pos + 10 + ((((msg[pos + 8] as number) << 8) | (msg[pos + 9] as number)) >>> 0);
  pos = skipName(msg, pos + 10);
  if (pos >= 0) pos = skipName(msg, pos);
  if (pos < 0 || pos + 4 > end || end > msg.length) return undefined;
  return u32(msg, pos);
}

/** A record as one string, a character per RDATA byte (measured 2-10x cheaper than base64 here). */
const keyOf = (r: TransferRR) =>
  `${r.name}|${r.type}|${r.ttl}|${String.fromCharCode.apply(null, r.rdata as unknown as number[])}`;

/** What changed from one version's records to the next (SOA aside), as records deleted and added. */
export function zoneStep(before: TransferRR[], after: TransferRR[]): ZoneStep {
  const soa = (rs: TransferRR[]) => rs[0] as TransferRR;
  const counts = new Map<string, { r: TransferRR; n: number }>();
  for (const r of before.slice(1, -1)) {
    const k = keyOf(r);
    const c = counts.get(k);
    if (c) c.n++;
    else counts.set(k, { r, n: 1 });
  }
  const added: TransferRR[] = [];
  for (const r of after.slice(1, -1)) {
    const c = counts.get(keyOf(r));
    if (c && c.n > 0) c.n--;
    else added.push(r);
  }
  const deleted = [...counts.values()].flatMap((c) => Array.from({ length: c.n }, () => c.r));
  return { from: soa(before), to: soa(after), deleted, added };
}

/** Adds a step to a zone's history, dropping the oldest beyond the bounds. */
export function remember(history: ZoneStep[], step: ZoneStep): ZoneStep[] {
  const out = [...history, step];
  const size = (h: ZoneStep[]) => h.reduce((n, s) => n + s.deleted.length + s.added.length, 0);
  while (out.length > HISTORY_STEPS || (out.length > 1 && size(out) > HISTORY_RECORDS)) out.shift();
  return size(out) > HISTORY_RECORDS ? [] : out;
}

/**
 * The IXFR answer's records for a secondary at `serial`: the current SOA alone when it is
 * current, the steps from its serial on (RFC 1995 §4), or undefined when the history does not
 * reach back to it.
 */
export function ixfrRecords(current: TransferRR, history: ZoneStep[], serial: number): TransferRR[] | undefined {
  if (serialOf(current) === serial) return [current];
  const first = history.findIndex((s) => serialOf(s.from) === serial);
  if (first < 0) return undefined;
  const steps = history.slice(first);
  if (serialOf((steps.at(-1) as ZoneStep).to) !== serialOf(current)) return undefined;
  return [current, ...steps.flatMap((s) => [s.from, ...s.deleted, s.to, ...s.added]), current];
}
