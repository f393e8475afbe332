// `gtm zone export`: a zone as an RFC 1035 master file, the way a secondary without our steering
// would serve it: SOA, apex NS, the static records, and each steered name in its fail-safe
// rendition (every pool address: what a second provider serves when it cannot steer).
import { addressHints, inZone, quoted, svcbWire, type SvcbParts } from '../wire/index.js';
import { ipv4Bytes, ipv6Bytes } from '../net/index.js';
import type { Config, Service, StaticRecord, Zone } from '../config/index.js';

const fq = (name: string) => `${name}.`;

/** A character-string in presentation form: quoted, with ", \ and non-printable bytes escaped. */
export const quoteText = (s: string): string => quoted(Buffer.from(s));

/** A record's type as a master file writes it (RFC 3597's TYPEnnn for one served as given). */
export const typeText = (r: StaticRecord): string => (r.type === 'GENERIC' ? `TYPE${r.code}` : r.type);

/** One record's RDATA in presentation form. */
export function rdataText(r: StaticRecord): string {
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return r.address;
    case 'NS':
    case 'CNAME':
    case 'PTR':
      return fq(r.target);
    case 'MX':
      return `${r.preference} ${fq(r.exchange)}`;
    case 'TXT':
      return r.strings.map(quoteText).join(' ');
    case 'SRV':
      return `${r.priority} ${r.weight} ${r.port} ${fq(r.target)}`;
    case 'CAA':
      return `${r.flags} ${r.tag} ${quoteText(r.value)}`;
    case 'DS':
      return `${r.keyTag} ${r.algorithm} ${r.digestType} ${r.digest.toUpperCase()}`;
    case 'GENERIC':
      return `\\# ${r.data.length / 2}${r.data ? ` ${r.data}` : ''}`;
  }
}

/**
 * A steered name as a secondary without our steering serves it (`transfer_as`): every pool
 * address, the last-resort regions' addresses, or the pools of the regions in `up` (all pools when
 * none is up, or when `up` is not known, as for `gtm zone export`: fail-safe). IPv4 for A, IPv6
 * for AAAA, each address once. `gtm zone export` and zone transfers both write this.
 */
export function secondaryAddresses(
  service: Service,
  up?: readonly string[],
): { a: string[]; aaaa: string[]; alias?: string } {
  let pools = service.pools;
  if (service.transferAs === 'last_resort') pools = pools.filter((p) => service.lastResort.includes(p.region));
  if (service.transferAs === 'healthy' && up) {
    const healthy = pools.filter((p) => up.includes(p.region));
    if (healthy.length) pools = healthy;
  }
  const all = (pick: (p: Service['pools'][number]) => string | undefined) =>
    [...new Set(pools.map(pick))].filter((x): x is string => !!x);
  const a = all((p) => p.vip4);
  const aaaa = all((p) => p.vip6);
  // Only aliases (cname pools) in the rendition: the first, as a CNAME (it cannot share the name).
  const alias = a.length || aaaa.length ? undefined : pools.find((p) => p.cname)?.cname;
  return alias ? { a, aaaa, alias } : { a, aaaa };
}

/** A steered name's HTTPS record as a secondary serves it: the rendition's addresses as its hints. */
export const httpsRendition = (https: SvcbParts, a: string[], aaaa: string[]): Buffer =>
  svcbWire(https, addressHints(a.map(ipv4Bytes), aaaa.map(ipv6Bytes)));

export function exportZone(config: Config, zone: Zone): string {
  const line = (name: string, ttl: number, type: string, rdata: string) => `${fq(name)}\t${ttl}\tIN\t${type}\t${rdata}`;
  const s = zone.soa;
  const out = [
    `; ${zone.name}, exported by gtm zone export: steered names as a secondary serves them (transfer_as)`,
    `$ORIGIN ${fq(zone.name)}`,
    line(
      zone.name,
      s.ttl,
      'SOA',
      `${fq(s.mname)} ${fq(s.rname)} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`,
    ),
    ...zone.ns.map((ns) => line(zone.name, zone.nsTtl, 'NS', fq(ns))),
    ...zone.records.map((r) => line(r.name, r.ttl, typeText(r), rdataText(r))),
  ];
  for (const svc of config.services.filter((x) => inZone(x.name, zone.name))) {
    out.push(`; steered: ${svc.name} (${svc.policy.kind}; a secondary serves ${svc.transferAs})`);
    const { a, aaaa, alias } = secondaryAddresses(svc, zone.transferUp);
    if (alias) {
      out.push(line(svc.name, svc.ttl, 'CNAME', fq(alias)));
      continue;
    }
    for (const addr of a) out.push(line(svc.name, svc.ttl, 'A', addr));
    for (const addr of aaaa) out.push(line(svc.name, svc.ttl, 'AAAA', addr));
    if (svc.https) {
      const rdata = httpsRendition(svc.https, a, aaaa);
      out.push(line(svc.name, svc.ttl, 'TYPE65', `\\# ${rdata.length} ${rdata.toString('hex')}`));
    }
  }
  return `${out.join('\n')}\n`;
}
