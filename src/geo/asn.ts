// Which network (origin AS) an address belongs to, for fencing rules ("ASN 64500's users go to
// eu-west"). Reads ip-location-db's range CSV (`start,end,asn,org`, addresses as text), the
// format of the npm package @ip-location-db/asn (RouteViews and DB-IP data, CC BY 4.0) and easy
// to write by hand. No MaxMind ASN database ships in npm under a free licence; this one does.
// Ranges are kept in typed arrays (not objects) and found by binary search: 500k ranges cost
// ~10 MB, and a lookup also says how large a block around the address shares its answer (the
// ECS scope of an answer that depended on it).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ipv6Bytes, isIPv6 } from '../net/index.js';
import { EMBEDDED_ASN } from './types.js';

const require = createRequire(import.meta.url);

/** What the data's licence asks us to say wherever its results are shown. */
export const ASN_ATTRIBUTION = 'IP to ASN by RouteViews (routeviews.org) and DB-IP (https://db-ip.com), CC BY 4.0';

export interface AsnResult {
  /** The origin AS, or undefined when no range holds the address. */
  asn?: number;
  org?: string;
  /** The shortest prefix around the address that lies wholly in its range (or in the gap). */
  prefixLen: number;
}

/** The files an `asn_database` setting reads. */
export function asnFiles(setting: string): string[] {
  if (setting !== EMBEDDED_ASN) return [setting];
  try {
    return [require.resolve('@ip-location-db/asn/asn-ipv4.csv'), require.resolve('@ip-location-db/asn/asn-ipv6.csv')];
  } catch {
    throw new Error(`asn database ${EMBEDDED_ASN}: the optional package @ip-location-db/asn is not installed`);
  }
}

/** One family's ranges, sorted: starts and ends as 32-bit words (1 per v4 address, 4 per v6). */
class Ranges {
  constructor(
    readonly words: number,
    readonly starts: Uint32Array,
    readonly ends: Uint32Array,
    readonly asns: Uint32Array,
  ) {}

  get size(): number {
    return this.asns.length;
  }

  /** -1, 0, 1: `addr` (as words) against row `i`'s start (or end). */
  private cmp(addr: Uint32Array, arr: Uint32Array, i: number): number {
    for (let w = 0; w < this.words; w++) {
      const a = addr[w] as number;
      const b = arr[i * this.words + w] as number;
      if (a !== b) return a < b ? -1 : 1;
    }
    return 0;
  }

  /** The last row whose start is at or before the address, or -1. */
  private floor(addr: Uint32Array): number {
    let lo = 0;
    let hi = this.size - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(addr, this.starts, mid) >= 0) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  lookup(addr: Uint32Array): { row: number; prefixLen: number } {
    const i = this.floor(addr);
    const inside = i >= 0 && this.cmp(addr, this.ends, i) <= 0;
    const bits = this.words * 32;
    // The block must stay within [low, high]: the range, or the gap between its neighbours.
    const low = inside
      ? this.starts.subarray(i * this.words, i * this.words + this.words)
      : i >= 0
        ? next(this.ends, i, this.words)
        : undefined;
    const high = inside
      ? this.ends.subarray(i * this.words, i * this.words + this.words)
      : i + 1 < this.size
        ? prev(this.starts, i + 1, this.words)
        : undefined;
    for (let len = 0; len <= bits; len++) {
      const first = masked(addr, len, 0);
      const last = masked(addr, len, 1);
      if ((!low || compareWords(first, low) >= 0) && (!high || compareWords(last, high) <= 0))
        return { row: inside ? i : -1, prefixLen: len };
    }
    return { row: inside ? i : -1, prefixLen: bits };
  }
}

function compareWords(a: Uint32Array, b: Uint32Array): number {
  for (let w = 0; w < a.length; w++) if (a[w] !== b[w]) return (a[w] as number) < (b[w] as number) ? -1 : 1;
  return 0;
}

/** Row i's value + 1 (the first address after a range). */
function next(arr: Uint32Array, i: number, words: number): Uint32Array {
  const out = arr.slice(i * words, i * words + words);
  for (let w = words - 1; w >= 0; w--) {
    out[w] = ((out[w] as number) + 1) >>> 0;
    if (out[w] !== 0) break;
  }
  return out;
}

/** Row i's value - 1 (the last address before a range). */
function prev(arr: Uint32Array, i: number, words: number): Uint32Array {
  const out = arr.slice(i * words, i * words + words);
  for (let w = words - 1; w >= 0; w--) {
    const was = out[w] as number;
    out[w] = (was - 1) >>> 0;
    if (was !== 0) break;
  }
  return out;
}

/** The first (fill 0) or last (fill 1) address of the /len block holding `addr`. */
function masked(addr: Uint32Array, len: number, fill: 0 | 1): Uint32Array {
  const out = new Uint32Array(addr.length);
  for (let w = 0; w < addr.length; w++) {
    const keep = Math.max(0, Math.min(32, len - w * 32));
    const mask = keep === 0 ? 0 : keep === 32 ? 0xffffffff : (0xffffffff << (32 - keep)) >>> 0;
    out[w] = fill ? ((addr[w] as number) & mask) | (~mask >>> 0) : (addr[w] as number) & mask;
  }
  return out;
}

/** Address bytes (4 or 16) as 32-bit words. */
function wordsOf(bytes: Uint8Array): Uint32Array {
  const out = new Uint32Array(bytes.length / 4);
  for (let w = 0; w < out.length; w++)
    out[w] =
      (((bytes[w * 4] as number) << 24) |
        ((bytes[w * 4 + 1] as number) << 16) |
        ((bytes[w * 4 + 2] as number) << 8) |
        (bytes[w * 4 + 3] as number)) >>>
      0;
  return out;
}

/** One family's rows as they are read: flat words, grown as plain arrays (no object per row). */
class Rows {
  starts: number[] = [];
  ends: number[] = [];
  asns: number[] = [];
  constructor(readonly words: number) {}

  private cmp(a: number[], i: number, b: number[], j: number): number {
    for (let w = 0; w < this.words; w++) {
      const x = a[i * this.words + w] as number;
      const y = b[j * this.words + w] as number;
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  }

  /**
   * Sorted and made disjoint: where two ranges overlap (the packaged data has one such pair),
   * the later-starting one holds the shared addresses, as the more specific announcement would.
   */
  pack(): Ranges {
    const n = this.asns.length;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.cmp(this.starts, a, this.starts, b));
    const W = this.words;
    const starts = new Uint32Array(n * W);
    const ends = new Uint32Array(n * W);
    const asns = new Uint32Array(n);
    let k = 0;
    for (const i of order) {
      const start = this.starts.slice(i * W, i * W + W);
      if (k > 0 && compareWords(Uint32Array.from(start), ends.subarray((k - 1) * W, k * W)) <= 0) {
        if (compareWords(Uint32Array.from(start), starts.subarray((k - 1) * W, k * W)) === 0) k--;
        else ends.set(prev(Uint32Array.from(start), 0, W), (k - 1) * W);
      }
      starts.set(start, k * W);
      ends.set(this.ends.slice(i * W, i * W + W), k * W);
      asns[k++] = this.asns[i] as number;
    }
    return new Ranges(W, starts.slice(0, k * W), ends.slice(0, k * W), asns.slice(0, k));
  }
}

/** A dotted IPv4 address in `buf[from, to)` as one word, or -1. */
function readIPv4(buf: Buffer, from: number, to: number): number {
  let value = 0;
  let part = -1;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i] as number;
    if (c >= 48 && c <= 57) {
      part = part < 0 ? c - 48 : part * 10 + c - 48;
      if (part > 255) return -1;
    } else if (c === 46 && part >= 0 && dots < 3) {
      value = value * 256 + part;
      part = -1;
      dots++;
    } else return -1;
  }
  return dots === 3 && part >= 0 ? value * 256 + part : -1;
}

/** An address in `buf[from, to)` appended to `out` as words; false when it is not one. */
function readAddress(buf: Buffer, from: number, to: number, words: number, out: number[]): boolean {
  if (words === 1) {
    const v = readIPv4(buf, from, to);
    if (v < 0) return false;
    out.push(v);
    return true;
  }
  const text = buf.toString('latin1', from, to);
  if (!isIPv6(text)) return false;
  out.push(...wordsOf(ipv6Bytes(text)));
  return true;
}

/** The org field (the rest of the line), unquoted, as a fresh string (not a slice of the file). */
function readOrg(buf: Buffer, from: number, to: number): string {
  const s = buf.toString('utf8', from, to).trim();
  return s.startsWith('"') && s.endsWith('"') && s.length > 1 ? s.slice(1, -1).replaceAll('""', '"') : s;
}

function badLine(file: string, line: number, why: string): Error {
  return new Error(`asn database ${file}:${line}: ${why} (expected start,end,asn[,org])`);
}

export class AsnTable {
  private constructor(
    private readonly v4: Ranges,
    private readonly v6: Ranges,
    private readonly orgs: Map<number, string>,
    readonly source: string,
  ) {}

  get size(): number {
    return this.v4.size + this.v6.size;
  }

  /**
   * Parses `start,end,asn[,org]` lines of either family; a bad line is an error naming it. Read
   * as bytes, not split into strings: the packaged data is 500k lines, and a string per field
   * made loading take 3 s and 340 MB of heap per DNS worker.
   */
  // long: one pass over the bytes with its checks; split, it would pass the same state around
  static parse(files: { name: string; data: Buffer }[], source: string): AsnTable {
    const rows = { 4: new Rows(1), 6: new Rows(4) };
    const orgs = new Map<number, string>();
    for (const { name, data } of files) {
      let lineNo = 0;
      for (let at = 0; at < data.length;) {
        lineNo++;
        let eol = data.indexOf(10, at);
        if (eol < 0) eol = data.length;
        const from = at;
        at = eol + 1;
        const end = data[eol - 1] === 13 ? eol - 1 : eol;
        if (end === from || data[from] === 35 /* # */) continue;
        const c1 = data.indexOf(44, from);
        const c2 = c1 < 0 || c1 > end ? -1 : data.indexOf(44, c1 + 1);
        if (c2 < 0 || c2 > end) throw badLine(name, lineNo, 'too few fields');
        let c3 = data.indexOf(44, c2 + 1);
        if (c3 < 0 || c3 > end) c3 = end;
        const family = data.subarray(from, c1).includes(58 /* : */) ? 6 : 4;
        const r = rows[family];
        if (!readAddress(data, from, c1, r.words, r.starts)) throw badLine(name, lineNo, 'the start is not an address');
        if (!readAddress(data, c1 + 1, c2, r.words, r.ends))
          throw badLine(name, lineNo, `the end is not an IPv${family} address`);
        let asn = 0;
        for (let i = c2 + 1; i < c3; i++) {
          const c = data[i] as number;
          if (c < 48 || c > 57 || asn > 0xffffffff) throw badLine(name, lineNo, 'the AS number is not a number');
          asn = asn * 10 + c - 48;
        }
        if (c3 === c2 + 1 || asn > 0xffffffff) throw badLine(name, lineNo, 'the AS number is not a number');
        const n = r.asns.length * r.words;
        for (let w = 0; w < r.words; w++) {
          const a = r.starts[n + w] as number;
          const b = r.ends[n + w] as number;
          if (a > b) throw badLine(name, lineNo, 'the start is after the end');
          if (a < b) break;
        }
        r.asns.push(asn);
        if (c3 < end && !orgs.has(asn)) orgs.set(asn, readOrg(data, c3 + 1, end));
      }
    }
    return new AsnTable(rows[4].pack(), rows[6].pack(), orgs, source);
  }

  /** Reads `embedded:asn` (the optional npm package) or a CSV file of the same form. */
  static open(setting: string): AsnTable {
    const files = asnFiles(setting).map((name) => {
      try {
        return { name, data: readFileSync(name) };
      } catch (err) {
        throw new Error(`asn database ${name}: ${(err as Error).message}`);
      }
    });
    return AsnTable.parse(files, setting);
  }

  /** The AS holding an address (bytes, 4 or 16). */
  lookup(address: Uint8Array): AsnResult {
    const ranges = address.length === 4 ? this.v4 : this.v6;
    const { row, prefixLen } = ranges.lookup(wordsOf(address));
    if (row < 0) return { prefixLen };
    const asn = ranges.asns[row] as number;
    return { asn, org: this.orgs.get(asn), prefixLen };
  }
}
