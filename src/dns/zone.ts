// Compiles configured zones into a lookup table with RDATA encoded once at load time.
import { addressRdata } from '../net/index.js';
import type { Config, Service, StaticRecord, Zone } from '../config/index.js';
import { cutAbove, delegationsOf } from '../config/zones.js';
import { TYPE, encodeName } from './wire.js';

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

export interface ZoneNode {
  rrsets: Map<number, RRset>;
  service?: Service;
}

export interface CompiledZone {
  zone: Zone;
  soa: RdataParts;
  /** Negative-caching TTL (RFC 2308: min of SOA TTL and MINIMUM). */
  negativeTtl: number;
  /** Every name with data, plus empty non-terminals (mapped to an empty node). */
  nodes: Map<string, ZoneNode>;
  /** Delegations (names below the apex with NS records): their NS sets. */
  cuts: Map<string, RRset>;
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
      return addressRdata(r.address);
    case 'SRV':
      // SRV targets are never compressed (RFC 2782).
      return Buffer.concat([Buffer.from([...u16(r.priority), ...u16(r.weight), ...u16(r.port)]), encodeName(r.target)]);
    case 'TXT':
      return Buffer.concat(r.strings.map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])));
    case 'CAA':
      return Buffer.concat([Buffer.from([r.flags, r.tag.length]), Buffer.from(r.tag), Buffer.from(r.value)]);
    case 'DS':
      return Buffer.concat([Buffer.from([...u16(r.keyTag), r.algorithm, r.digestType]), Buffer.from(r.digest, 'hex')]);
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

export function soaParts(zone: Zone): RdataParts {
  const s = zone.soa;
  const nums = Buffer.alloc(20);
  [s.serial, s.refresh, s.retry, s.expire, s.minimum].forEach((n, i) => nums.writeUInt32BE(n >>> 0, i * 4));
  return { pre: EMPTY, names: [s.mname, s.rname], post: nums };
}

export function compileZones(config: Config): CompiledZone[] {
  return config.zones.map((zone) => {
    const nodes = new Map<string, ZoneNode>();
    const node = (name: string): ZoneNode => {
      let n = nodes.get(name);
      if (!n) {
        n = { rrsets: new Map() };
        nodes.set(name, n);
      }
      return n;
    };
    const add = (name: string, type: number, ttl: number, rdata: Uint8Array, parts?: RdataParts) => {
      const n = node(name);
      let set = n.rrsets.get(type);
      if (!set) {
        set = { type, ttl, rdata: [], parts: parts ? [] : undefined };
        n.rrsets.set(type, set);
      }
      // An RRset has one TTL (RFC 2181 §5.2): the lowest configured one wins.
      set.ttl = Math.min(set.ttl, ttl);
      set.rdata.push(rdata);
      if (parts) set.parts?.push(parts);
      if (type === TYPE.NS || type === TYPE.CNAME) (set.targets ??= []).push(parts?.names[0] as string);
    };
    const soa = soaParts(zone);
    node(zone.name).rrsets.set(TYPE.SOA, {
      type: TYPE.SOA,
      ttl: zone.soa.ttl,
      rdata: [Buffer.concat([soa.pre, ...soa.names.map(encodeName), soa.post])],
      parts: [soa],
    });
    for (const ns of zone.ns)
      add(zone.name, TYPE.NS, zone.nsTtl, encodeName(ns), { pre: EMPTY, names: [ns], post: EMPTY });
    for (const r of zone.records) add(r.name, TYPE[r.type], r.ttl, encodeRdata(r), rdataParts(r));
    for (const s of config.services) {
      if (s.name === zone.name || s.name.endsWith(`.${zone.name}`)) node(s.name).service = s;
    }
    const cuts = new Map<string, RRset>();
    for (const name of delegationsOf(zone)) cuts.set(name, nodes.get(name)?.rrsets.get(TYPE.NS) as RRset);
    // Empty non-terminals exist (NODATA, not NXDOMAIN) per RFC 8020.
    for (const name of [...nodes.keys()]) {
      for (let n = name; n !== zone.name;) {
        const dot = n.indexOf('.');
        n = n.slice(dot + 1);
        if (!nodes.has(n)) nodes.set(n, { rrsets: new Map() });
      }
    }
    return { zone, soa, negativeTtl: Math.min(zone.soa.ttl, zone.soa.minimum), nodes, cuts };
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
