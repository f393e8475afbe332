// Compiles configured zones into a lookup table with RDATA encoded once at load time.
import { addressRdata } from '../net/index.js';
import type { Config, Service, StaticRecord, Zone } from '../config/index.js';
import { TYPE, encodeName } from './wire.js';

export interface RRset {
  type: number;
  ttl: number;
  /** Pre-encoded RDATA, except for name-valued types (compressed at write time). */
  rdata: Uint8Array[];
  /** For CNAME/NS: the target names. */
  targets?: string[];
}

export interface ZoneNode {
  rrsets: Map<number, RRset>;
  service?: Service;
}

export interface CompiledZone {
  zone: Zone;
  soaRdata: Uint8Array;
  /** Negative-caching TTL (RFC 2308: min of SOA TTL and MINIMUM). */
  negativeTtl: number;
  /** Every name with data, plus empty non-terminals (mapped to an empty node). */
  nodes: Map<string, ZoneNode>;
}

function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

function encodeRdata(r: StaticRecord): Uint8Array {
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return addressRdata(r.address);
    case 'NS':
    case 'CNAME':
    case 'PTR':
      return encodeName(r.target);
    case 'MX':
      return Buffer.concat([Buffer.from(u16(r.preference)), encodeName(r.exchange)]);
    case 'SRV':
      return Buffer.concat([Buffer.from([...u16(r.priority), ...u16(r.weight), ...u16(r.port)]), encodeName(r.target)]);
    case 'TXT':
      return Buffer.concat(r.strings.map((s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])));
    case 'CAA':
      return Buffer.concat([Buffer.from([r.flags, r.tag.length]), Buffer.from(r.tag), Buffer.from(r.value)]);
  }
}

export function soaRdata(zone: Zone): Uint8Array {
  const s = zone.soa;
  const nums = Buffer.alloc(20);
  [s.serial, s.refresh, s.retry, s.expire, s.minimum].forEach((n, i) => nums.writeUInt32BE(n >>> 0, i * 4));
  return Buffer.concat([encodeName(s.mname), encodeName(s.rname), nums]);
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
    const add = (name: string, type: number, ttl: number, rdata: Uint8Array, target?: string) => {
      const n = node(name);
      let set = n.rrsets.get(type);
      if (!set) {
        set = { type, ttl, rdata: [], targets: target !== undefined ? [] : undefined };
        n.rrsets.set(type, set);
      }
      // An RRset has one TTL (RFC 2181 §5.2): the lowest configured one wins.
      set.ttl = Math.min(set.ttl, ttl);
      set.rdata.push(rdata);
      if (target !== undefined) set.targets?.push(target);
    };
    const apex = node(zone.name);
    apex.rrsets.set(TYPE.SOA, { type: TYPE.SOA, ttl: zone.soa.ttl, rdata: [soaRdata(zone)] });
    for (const ns of zone.ns) add(zone.name, TYPE.NS, zone.nsTtl, encodeName(ns), ns);
    for (const r of zone.records) {
      const target = r.type === 'NS' || r.type === 'CNAME' ? r.target : undefined;
      add(r.name, TYPE[r.type], r.ttl, encodeRdata(r), target);
    }
    for (const s of config.services) {
      if (s.name === zone.name || s.name.endsWith(`.${zone.name}`)) node(s.name).service = s;
    }
    // Empty non-terminals exist (NODATA, not NXDOMAIN) per RFC 8020.
    for (const name of [...nodes.keys()]) {
      for (let n = name; n !== zone.name;) {
        const dot = n.indexOf('.');
        n = n.slice(dot + 1);
        if (!nodes.has(n)) nodes.set(n, { rrsets: new Map() });
      }
    }
    return { zone, soaRdata: soaRdata(zone), negativeTtl: Math.min(zone.soa.ttl, zone.soa.minimum), nodes };
  });
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
