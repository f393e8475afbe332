// A minimal MaxMind DB (MMDB v2) writer, used to build small test databases with known
// networks, countries, subdivisions and coordinates. Real deployments read MaxMind's own
// GeoIP2/GeoLite2 files; this exists so tests and the lab never depend on a download.
// Format facts: MaxMind DB File Format Specification v2.0 (search tree of 32-bit records,
// 16-byte separator, data section, metadata after "\xAB\xCD\xEFMaxMind.com").
import { ipv6Bytes, parseCidr } from '../src/net/index.js';

export type MmdbValue = string | number | boolean | MmdbValue[] | { [k: string]: MmdbValue } | Double | Uint16 | Uint64;

/** Marks a number to be stored as an IEEE double (coordinates); other numbers are uint32. */
export class Double {
  constructor(readonly value: number) {}
}

/**
 * Integers whose type the spec fixes (the metadata: record_size, ip_version and the format
 * versions are uint16, build_epoch uint64). Strict readers (libmaxminddb: mmdblookup, gdnsd)
 * refuse the file when they are stored as uint32.
 */
export class Uint16 {
  constructor(readonly value: number) {}
}
export class Uint64 {
  constructor(readonly value: number) {}
}

/** Big-endian bytes of a non-negative integer, without leading zeros (the spec's encoding). */
function uintBytes(v: number): number[] {
  const bytes: number[] = [];
  for (let n = v; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return bytes;
}

interface Node {
  children: [Node | number | undefined, Node | number | undefined];
}

export class MmdbWriter {
  private readonly root: Node = { children: [undefined, undefined] };
  private readonly data: Buffer[] = [];
  private dataSize = 0;

  constructor(
    private readonly databaseType: string,
    private readonly description: string,
  ) {}

  /** Adds a network (IPv4 networks go in the IPv4-mapped ::/96 subtree). */
  insert(cidr: string, value: MmdbValue): void {
    const net = parseCidr(cidr);
    if (!net) throw new Error(`bad network ${cidr}`);
    const bytes = net.family === 4 ? ipv6Bytes(`::${cidr.split('/')[0]}`) : net.bytes;
    const prefix = net.family === 4 ? net.prefix + 96 : net.prefix;
    const offset = this.dataSize;
    const encoded = encode(value);
    this.data.push(encoded);
    this.dataSize += encoded.length;
    let node = this.root;
    for (let depth = 0; depth < prefix; depth++) {
      const bit = ((bytes[depth >> 3] as number) >> (7 - (depth & 7))) & 1;
      if (depth === prefix - 1) {
        node.children[bit] = offset;
        break;
      }
      let next = node.children[bit];
      if (typeof next !== 'object') {
        // Split an existing leaf so the rest of its network keeps its data.
        next = { children: [next, next] };
        node.children[bit] = next;
      }
      node = next;
    }
  }

  toBuffer(): Buffer {
    const nodes: Node[] = [];
    const queue: Node[] = [this.root];
    while (queue.length) {
      const n = queue.shift() as Node;
      nodes.push(n);
      for (const c of n.children) if (typeof c === 'object') queue.push(c);
    }
    const index = new Map(nodes.map((n, i) => [n, i]));
    const nodeCount = nodes.length;
    const tree = Buffer.alloc(nodeCount * 8);
    nodes.forEach((n, i) => {
      n.children.forEach((c, side) => {
        const record =
          c === undefined ? nodeCount : typeof c === 'number' ? nodeCount + 16 + c : (index.get(c) as number);
        tree.writeUInt32BE(record, i * 8 + side * 4);
      });
    });
    const metadata = encode({
      node_count: nodeCount,
      record_size: new Uint16(32),
      ip_version: new Uint16(6),
      database_type: this.databaseType,
      languages: ['en'],
      binary_format_major_version: new Uint16(2),
      binary_format_minor_version: new Uint16(0),
      build_epoch: new Uint64(Math.floor(Date.now() / 1000)),
      description: { en: this.description },
    });
    return Buffer.concat([
      tree,
      Buffer.alloc(16),
      ...this.data,
      Buffer.from([0xab, 0xcd, 0xef]),
      Buffer.from('MaxMind.com'),
      metadata,
    ]);
  }
}

function control(type: number, size: number): Buffer {
  const ext = type > 7;
  const first = ext ? 0 : type << 5;
  let sizeBytes: number[] = [];
  let sizeBits: number;
  if (size < 29) sizeBits = size;
  else if (size < 285) [sizeBits, sizeBytes] = [29, [size - 29]];
  else if (size < 65821) [sizeBits, sizeBytes] = [30, [(size - 285) >> 8, (size - 285) & 0xff]];
  else [sizeBits, sizeBytes] = [31, [(size - 65821) >> 16, ((size - 65821) >> 8) & 0xff, (size - 65821) & 0xff]];
  return Buffer.from([first | sizeBits, ...(ext ? [type - 7] : []), ...sizeBytes]);
}

function encode(v: MmdbValue): Buffer {
  if (v instanceof Double) {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v.value);
    return Buffer.concat([control(3, 8), b]);
  }
  if (v instanceof Uint16)
    return Buffer.concat([control(5, uintBytes(v.value).length), Buffer.from(uintBytes(v.value))]);
  if (v instanceof Uint64)
    return Buffer.concat([control(9, uintBytes(v.value).length), Buffer.from(uintBytes(v.value))]);
  if (typeof v === 'string') {
    const b = Buffer.from(v);
    return Buffer.concat([control(2, b.length), b]);
  }
  if (typeof v === 'boolean') return control(14, v ? 1 : 0);
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) return encode(new Double(v));
    const bytes = uintBytes(v);
    return Buffer.concat([control(bytes.length > 4 ? 9 : 6, bytes.length), Buffer.from(bytes)]);
  }
  if (Array.isArray(v)) return Buffer.concat([control(11, v.length), ...v.map(encode)]);
  const entries = Object.entries(v);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}
