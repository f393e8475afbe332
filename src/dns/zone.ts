// Compiles configured zones into a lookup table with RDATA encoded once at load time.
import { ipv4Bytes, ipv6Bytes } from '../net/index.js';
import type { Config, Service, StaticRecord, Zone } from '../config/index.js';
import { cutAbove, delegationsOf } from '../config/zones.js';
import { TYPE, encodeName, inZone } from '../wire/index.js';
import { ZoneSigner, type ZoneKey } from '../dnssec/index.js';

export interface RRset {
  type: number;
  ttl: number;
  /** Pre-encoded RDATA of each record. */
  rdata: Uint8Array[];
  /**
   * For the RFC 1035 types whose RDATA names may be compressed (NS, CNAME, PTR, MX, SOA): each
   * record as bytes before, names, bytes after, written with compression (RFC 3597 §4).
   */
  parts?: RdataParts[];
  /** For CNAME/NS: the target names. */
  targets?: string[];
}

export interface RdataParts {
  pre: Uint8Array;
  names: string[];
  post: Uint8Array;
}

/**
 * A name's data. The RRsets are a short array searched by type, not a Map: a node holds one to
 * three types, and a Map per name cost ~100 bytes more at 100,000 names (README, Speed).
 */
export interface ZoneNode {
  sets: RRset[];
  service?: Service;
}

/** The RRset of this type at the node, if any. */
export function rrsetOf(node: ZoneNode, type: number): RRset | undefined {
  for (const s of node.sets) if (s.type === type) return s;
  return undefined;
}

/** Every empty non-terminal shares this node (it has no data to hold). */
const EMPTY_NODE: ZoneNode = Object.freeze({ sets: [] as RRset[] }) as ZoneNode;

export interface CompiledZone {
  zone: Zone;
  soa: RdataParts;
  /** Negative-caching TTL (RFC 2308: min of SOA TTL and MINIMUM). */
  negativeTtl: number;
  /**
   * Every name with data, plus empty non-terminals (mapped to an empty node). A number is a
   * packed node (see PackedNodes); read names through nodeOf().
   */
  nodes: Map<string, ZoneNode | number>;
  packed: PackedNodes;
  /** Delegations (names below the apex with NS records): their NS sets. */
  cuts: Map<string, RRset>;
  /** A signed zone's keys (read from its key directory by the DNS primary). */
  keys?: ZoneKey[];
}

const EMPTY = new Uint8Array(0);

function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

function encodeRdata(r: StaticRecord): Uint8Array {
  const parts = rdataParts(r);
  if (parts) return Buffer.concat([parts.pre, ...parts.names.map(encodeName), parts.post]);
  switch (r.type) {
    case 'A':
    case 'AAAA':
      // Copied into Node's shared buffer pool: one small view per record, not an ArrayBuffer each.
      return Buffer.from(r.type === 'A' ? ipv4Bytes(r.address) : ipv6Bytes(r.address));
    case 'SRV':
      // SRV targets are never compressed (RFC 2782).
      return Buffer.concat([Buffer.from([...u16(r.priority), ...u16(r.weight), ...u16(r.port)]), encodeName(r.target)]);
    case 'TXT':
      return Buffer.concat(r.strings.map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])));
    case 'CAA':
      return Buffer.concat([Buffer.from([r.flags, r.tag.length]), Buffer.from(r.tag), Buffer.from(r.value)]);
    case 'DS':
      return Buffer.concat([Buffer.from([...u16(r.keyTag), r.algorithm, r.digestType]), Buffer.from(r.digest, 'hex')]);
    case 'GENERIC':
      return Buffer.from(r.data, 'hex');
  }
  return EMPTY;
}

/** The compressible layout of a record's RDATA, for the types RFC 1035 defines with names. */
function rdataParts(r: StaticRecord): RdataParts | undefined {
  switch (r.type) {
    case 'NS':
    case 'CNAME':
    case 'PTR':
      return { pre: EMPTY, names: [r.target], post: EMPTY };
    case 'MX':
      return { pre: Uint8Array.from(u16(r.preference)), names: [r.exchange], post: EMPTY };
    default:
      return undefined;
  }
}

/** The SOA's RDATA, names uncompressed (a zone's node, a NOTIFY). */
export function soaRdata(zone: Zone): Buffer {
  const soa = soaParts(zone);
  return Buffer.concat([soa.pre, ...soa.names.map(encodeName), soa.post]);
}

export function soaParts(zone: Zone): RdataParts {
  const s = zone.soa;
  const nums = Buffer.alloc(20);
  [s.serial, s.refresh, s.retry, s.expire, s.minimum].forEach((n, i) => nums.writeUInt32BE(n >>> 0, i * 4));
  return { pre: EMPTY, names: [s.mname, s.rname], post: nums };
}

/**
 * Names whose data is all plain RDATA (A, AAAA, TXT, SRV, CAA, DS: nothing to compress, no
 * service) live in one byte array instead of as objects: per RRset type (u16), TTL (u32),
 * record count (u16), then per record its length (u16) and RDATA. A 100,000-record zone then
 * takes a few MB rather than ~60 MB of small objects per worker; a node is unpacked when it is
 * asked for (the answer memo keeps repeated questions from unpacking again). Plain data, so it
 * crosses to the workers by structured clone as it is.
 */
export interface PackedNodes {
  bytes: Uint8Array;
  /** Node i spans bytes[starts[i], starts[i + 1]). */
  starts: Uint32Array;
}

const NO_PACKED: PackedNodes = { bytes: new Uint8Array(0), starts: new Uint32Array(1) };

/** Packs the plain nodes of `nodes` in place (their entries become indexes). */
export function packNodes(nodes: Map<string, ZoneNode | number>): PackedNodes {
  const plain: [string, ZoneNode][] = [];
  let size = 0;
  for (const [name, n] of nodes) {
    if (typeof n === 'number' || n.service || n.sets.length === 0 || !n.sets.every(isPlain)) continue;
    plain.push([name, n]);
    for (const set of n.sets) size += 8 + set.rdata.reduce((t, rd) => t + 2 + rd.length, 0);
  }
  if (plain.length === 0) return NO_PACKED;
  const bytes = Buffer.alloc(size);
  const starts = new Uint32Array(plain.length + 1);
  let at = 0;
  plain.forEach(([name, n], i) => {
    starts[i] = at;
    for (const set of n.sets) {
      bytes.writeUInt16BE(set.type, at);
      bytes.writeUInt32BE(set.ttl >>> 0, at + 2);
      bytes.writeUInt16BE(set.rdata.length, at + 6);
      at += 8;
      for (const rd of set.rdata) {
        bytes.writeUInt16BE(rd.length, at);
        bytes.set(rd, at + 2);
        at += 2 + rd.length;
      }
    }
    nodes.set(name, i);
  });
  starts[plain.length] = at;
  return { bytes, starts };
}

export function unpackNode(p: PackedNodes, i: number): ZoneNode {
  const b = p.bytes;
  const u16 = (at: number) => ((b[at] as number) << 8) | (b[at + 1] as number);
  const end = p.starts[i + 1] as number;
  const sets: RRset[] = [];
  for (let at = p.starts[i] as number; at < end;) {
    const ttl = ((u16(at + 2) << 16) | u16(at + 4)) >>> 0;
    const set: RRset = { type: u16(at), ttl, rdata: [] };
    const count = u16(at + 6);
    at += 8;
    for (let k = 0; k < count; k++) {
      const len = u16(at);
      set.rdata.push(b.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    }
    sets.push(set);
  }
  return { sets };
}

const isPlain = (set: RRset) => !set.parts && !set.targets;

/** The node at `name` in this zone, unpacked if it was packed. */
export function nodeOf(zone: CompiledZone, name: string): ZoneNode | undefined {
  const n = zone.nodes.get(name);
  return typeof n === 'number' ? unpackNode(zone.packed, n) : n;
}

/** `keys`: the signed zones' keys by zone name (loadZoneKeys); a signed zone without them is served unsigned. */
export function compileZones(config: Config, keys?: Map<string, ZoneKey[]>): CompiledZone[] {
  return config.zones.map((zone) => {
    const nodes = new Map<string, ZoneNode | number>();
    const node = (name: string): ZoneNode => {
      let n = nodes.get(name) as ZoneNode | undefined;
      if (!n) {
        n = { sets: [] };
        nodes.set(name, n);
      }
      return n;
    };
    const add = (name: string, type: number, ttl: number, rdata: Uint8Array, parts?: RdataParts) => {
      const n = node(name);
      let set = rrsetOf(n, type);
      if (!set) {
        set = parts ? { type, ttl, rdata: [], parts: [] } : { type, ttl, rdata: [] };
        n.sets.push(set);
      }
      // An RRset has one TTL (RFC 2181 §5.2): the lowest configured one wins.
      set.ttl = Math.min(set.ttl, ttl);
      set.rdata.push(rdata);
      if (parts) set.parts?.push(parts);
      if (type === TYPE.NS || type === TYPE.CNAME) (set.targets ??= []).push(parts?.names[0] as string);
    };
    const soa = soaParts(zone);
    node(zone.name).sets.push({
      type: TYPE.SOA,
      ttl: zone.soa.ttl,
      rdata: [soaRdata(zone)],
      parts: [soa],
    });
    for (const ns of zone.ns)
      add(zone.name, TYPE.NS, zone.nsTtl, encodeName(ns), { pre: EMPTY, names: [ns], post: EMPTY });
    for (const r of zone.records)
      add(r.name, r.type === 'GENERIC' ? r.code : TYPE[r.type], r.ttl, encodeRdata(r), rdataParts(r));
    for (const s of config.services) {
      if (inZone(s.name, zone.name)) node(s.name).service = s;
    }
    const cuts = new Map<string, RRset>();
    for (const name of delegationsOf(zone)) cuts.set(name, rrsetOf(node(name), TYPE.NS) as RRset);
    // Empty non-terminals exist (NODATA, not NXDOMAIN) per RFC 8020.
    for (const name of [...nodes.keys()]) {
      for (let n = name; n !== zone.name;) {
        const dot = n.indexOf('.');
        n = n.slice(dot + 1);
        if (!nodes.has(n)) nodes.set(n, EMPTY_NODE);
      }
    }
    const packed = packNodes(nodes);
    // The records now live in `nodes`; the compiled zone does not keep the list too.
    return {
      zone: { ...zone, records: [] },
      soa,
      negativeTtl: Math.min(zone.soa.ttl, zone.soa.minimum),
      nodes,
      packed,
      cuts,
      ...(zone.dnssec && keys?.has(zone.name) ? { keys: keys.get(zone.name) } : {}),
    };
  });
}

/** The delegation at or above `name` in this zone (undefined when the name is ours). */
export function cutOf(zone: CompiledZone, name: string): { name: string; ns: RRset } | undefined {
  if (zone.cuts.size === 0) return undefined;
  const at = cutAbove(zone.cuts, name, zone.zone.name);
  return at === undefined ? undefined : { name: at, ns: zone.cuts.get(at) as RRset };
}

/** Longest-suffix zone match. */
export function findZone(zones: CompiledZone[], qname: string): CompiledZone | undefined {
  let best: CompiledZone | undefined;
  for (const z of zones) {
    const n = z.zone.name;
    if (
      (qname === n || (qname.length > n.length && qname.endsWith(n) && qname[qname.length - n.length - 1] === '.')) &&
      (!best || n.length > best.zone.name.length)
    ) {
      best = z;
    }
  }
  return best;
}

/** The config minus the zones' record lists, which the compiled zones hold (in a fraction of the memory). */
export function withoutRecords(config: Config): Config {
  return { ...config, zones: config.zones.map((z) => ({ ...z, records: [] })) };
}

/**
 * What a DNS primary sends its workers: the config without record lists and the zones compiled
 * once (packed), in one message so the services the zones point at stay the config's own objects.
 * A worker then never holds the records as objects, not even while it loads them.
 */
export function prepareForWorkers(
  config: Config,
  keys?: Map<string, ZoneKey[]>,
): { config: Config; zones: CompiledZone[] } {
  const zones = compileZones(config, keys);
  signersOf(zones); // a zone whose keys cannot sign is refused here, in the primary
  return { config: withoutRecords(config), zones };
}

/** A signer per signed zone; throws when a zone's keys cannot sign it now. */
export function signersOf(zones: CompiledZone[]): Map<CompiledZone, ZoneSigner> {
  const out = new Map<CompiledZone, ZoneSigner>();
  for (const z of zones) if (z.keys && z.zone.dnssec) out.set(z, new ZoneSigner(z.zone.name, z.keys, z.zone.dnssec));
  return out;
}
