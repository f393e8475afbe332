// Turns the parsed YAML document into a validated Config, listing every problem by path.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import cron from 'node-cron';
import type {
  Config,
  ControlSettings,
  RegionStatus,
  Schedule,
  DnsSettings,
  Policy,
  Pool,
  Region,
  Service,
  Soa,
  StaticRecord,
  Zone,
} from './types.js';
import { DEFAULT_MAX_REGIONS_OUT, REGION_STATUSES, type RegionStatus as Status } from '../state/contract.js';

const isRegionStatus = (v: unknown): v is Status => REGION_STATUSES.includes(v as Status);
import { parsePolicy } from '../policy/index.js';
import { MAX_CNAME_CHAIN } from './limits.js';
import { regionRef } from '../policy/common.js';
import { parsePops } from './pops.js';
import { Problems, bool, hostPort, int, ipv4, ipv6, join, list, num, obj, str } from './validate.js';

const LABEL = /^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/i;
const REGION_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const TTL_MAX = 2147483647;

/** Makes a configured name absolute: relative names hang off the zone, '@' is the apex. */
export function absoluteName(name: string, origin: string): string {
  if (name === '@') return origin;
  if (name.endsWith('.')) return name.slice(0, -1).toLowerCase();
  return origin ? `${name}.${origin}`.toLowerCase() : name.toLowerCase();
}

export function validDomainName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((l) => LABEL.test(l));
}

function domain(p: Problems, path: string, v: unknown, origin: string): string | undefined {
  const s = str(p, path, v);
  if (s === undefined) return undefined;
  const abs = absoluteName(s, origin);
  if (!validDomainName(abs)) {
    p.add(path, 'not a valid domain name');
    return undefined;
  }
  return abs;
}

function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

export function parseConfigObject(doc: unknown): { config?: Config; problems: string[] } {
  const p = new Problems();
  const root = obj(p, '', doc, ['dns', 'geo', 'regions', 'zones', 'services', 'pops', 'control']);
  if (!root) return { problems: p.list };

  const dns = parseDns(p, root.dns);
  const geoObj =
    root.geo === undefined || root.geo === null ? {} : obj(p, 'geo', root.geo, ['database', 'reload_cron']);
  const geo = {
    database: geoObj ? str(p, 'geo.database', geoObj.database, { optional: true }) : undefined,
    reloadCron: geoObj?.reload_cron === undefined ? undefined : cronExpr(p, 'geo.reload_cron', geoObj.reload_cron),
  };
  const regions = parseRegions(p, root.regions);
  const zones = parseZones(p, root.zones);
  const services = parseServices(p, root.services, regions, zones, dns.ecs);
  const pops = parsePops(p, root.pops, regions);
  const control = parseControl(p, root.control, regions);

  if (!p.ok) return { problems: p.list };
  return { config: { dns, geo, regions, zones, services, pops, control }, problems: [] };
}

function parseDns(p: Problems, v: unknown): DnsSettings {
  const d =
    (v === undefined || v === null
      ? {}
      : obj(p, 'dns', v, [
          'listen',
          'workers',
          'max_udp_size',
          'ecs',
          'query_log_sample',
          'metrics',
          'tcp_idle_ms',
          'max_scope_v4',
          'max_scope_v6',
        ])) ?? {};
  const listen = d.listen === undefined ? { host: '127.0.0.1', port: 5353 } : hostPort(p, 'dns.listen', d.listen);
  let workers = 1;
  if (d.workers === undefined || d.workers === 'auto') workers = 0;
  else workers = int(p, 'dns.workers', d.workers, 1, 64) ?? 1;
  return {
    listen: listen ?? { host: '127.0.0.1', port: 5353 },
    workers,
    maxUdpSize: int(p, 'dns.max_udp_size', d.max_udp_size, 512, 65535, 1232) ?? 1232,
    ecs: bool(p, 'dns.ecs', d.ecs, true),
    queryLogSample: num(p, 'dns.query_log_sample', d.query_log_sample, 0, 1, 0) ?? 0,
    metrics: d.metrics === undefined ? undefined : hostPort(p, 'dns.metrics', d.metrics),
    tcpIdleMs: int(p, 'dns.tcp_idle_ms', d.tcp_idle_ms, 100, 600_000, 10_000) ?? 10_000,
    maxScope4: int(p, 'dns.max_scope_v4', d.max_scope_v4, 0, 32, 24) ?? 24,
    maxScope6: int(p, 'dns.max_scope_v6', d.max_scope_v6, 0, 128, 56) ?? 56,
  };
}

function parseRegions(p: Problems, v: unknown): Map<string, Region> {
  const out = new Map<string, Region>();
  const regions = obj(p, 'regions', v);
  if (!regions) return out;
  if (Object.keys(regions).length === 0) p.add('regions', 'must declare at least one region');
  for (const [name, rv] of Object.entries(regions)) {
    const path = join('regions', name);
    if (!REGION_NAME.test(name)) p.add(path, 'region names use lower-case letters, digits and dashes');
    const r = obj(p, path, rv, ['vip', 'vip6', 'location', 'country', 'weight', 'state']);
    if (!r) continue;
    const loc = obj(p, join(path, 'location'), r.location, ['lat', 'lon']);
    const region: Region = {
      name,
      vip4: r.vip === undefined ? undefined : ipv4(p, join(path, 'vip'), r.vip),
      vip6: r.vip6 === undefined ? undefined : ipv6(p, join(path, 'vip6'), r.vip6),
      lat: (loc && num(p, join(path, 'location.lat'), loc.lat, -90, 90)) ?? 0,
      lon: (loc && num(p, join(path, 'location.lon'), loc.lon, -180, 180)) ?? 0,
      country: str(p, join(path, 'country'), r.country, {
        optional: true,
        pattern: /^[A-Z]{2}$/,
        what: 'an ISO 3166 country code',
      }),
      weight: num(p, join(path, 'weight'), r.weight, 0, 1_000_000, 1) ?? 1,
      status: 'up',
    };
    if (r.state !== undefined) {
      if (isRegionStatus(r.state)) region.status = r.state;
      else p.add(join(path, 'state'), `must be ${REGION_STATUSES.join(', ')}`);
    }
    out.set(name, region);
  }
  return out;
}

function parseZones(p: Problems, v: unknown): Zone[] {
  const zones: Zone[] = [];
  const zs = obj(p, 'zones', v);
  if (!zs) return zones;
  for (const [rawName, zv] of Object.entries(zs)) {
    const path = join('zones', rawName);
    const name = absoluteName(rawName.endsWith('.') ? rawName : `${rawName}.`, '');
    if (!validDomainName(name)) p.add(path, 'not a valid zone name');
    const z = obj(p, path, zv, ['soa', 'ns', 'ns_ttl', 'records']);
    if (!z) continue;
    const soa = parseSoa(p, join(path, 'soa'), z.soa, name);
    const nsList = list(p, join(path, 'ns'), z.ns, { nonEmpty: true }) ?? [];
    const ns = nsList
      .map((n, i) => domain(p, join(join(path, 'ns'), i), n, name))
      .filter((n): n is string => n !== undefined);
    const records = (list(p, join(path, 'records'), z.records, { optional: true }) ?? [])
      .map((rv, i) => parseRecord(p, join(join(path, 'records'), i), rv, name))
      .filter((r): r is StaticRecord => r !== undefined);
    for (const [i, r] of records.entries()) {
      if (!inZone(r.name, name)) p.add(join(join(path, 'records'), i), `name ${r.name} is outside zone ${name}`);
    }
    checkCnameExclusive(p, path, records, name);
    checkCnameChains(p, path, records);
    zones.push({
      name,
      soa: soa ?? defaultSoa(name),
      ns,
      nsTtl: int(p, join(path, 'ns_ttl'), z.ns_ttl, 0, TTL_MAX, 86400) ?? 86400,
      records,
    });
  }
  const seen = new Set<string>();
  for (const z of zones) {
    if (seen.has(z.name)) p.add(join('zones', z.name), 'zone declared twice');
    seen.add(z.name);
  }
  return zones;
}

function defaultSoa(zone: string): Soa {
  return {
    mname: `ns1.${zone}`,
    rname: `hostmaster.${zone}`,
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 604800,
    minimum: 60,
    ttl: 3600,
  };
}

function parseSoa(p: Problems, path: string, v: unknown, zone: string): Soa | undefined {
  const s = obj(p, path, v, ['mname', 'rname', 'serial', 'refresh', 'retry', 'expire', 'minimum', 'ttl']);
  if (!s) return undefined;
  const u32 = (k: string, fallback?: number) => int(p, join(path, k), s[k], 0, 0xffffffff, fallback);
  return {
    mname: domain(p, join(path, 'mname'), s.mname, zone) ?? '',
    rname: domain(p, join(path, 'rname'), s.rname, zone) ?? '',
    serial: u32('serial') ?? 0,
    refresh: u32('refresh', 3600) ?? 0,
    retry: u32('retry', 600) ?? 0,
    expire: u32('expire', 604800) ?? 0,
    minimum: u32('minimum', 60) ?? 0,
    ttl: u32('ttl', 3600) ?? 0,
  };
}

const RECORD_TYPES = ['A', 'AAAA', 'NS', 'CNAME', 'PTR', 'MX', 'TXT', 'SRV', 'CAA'] as const;

function parseRecord(p: Problems, path: string, v: unknown, zone: string): StaticRecord | undefined {
  const r = obj(p, path, v, ['name', 'type', 'ttl', 'value']);
  if (!r) return undefined;
  const name = domain(p, join(path, 'name'), r.name, zone);
  const type = typeof r.type === 'string' ? r.type.toUpperCase() : undefined;
  if (!type || !(RECORD_TYPES as readonly string[]).includes(type)) {
    p.add(join(path, 'type'), `must be one of ${RECORD_TYPES.join(', ')}`);
    return undefined;
  }
  const ttl = int(p, join(path, 'ttl'), r.ttl, 0, TTL_MAX, 300) ?? 300;
  const vp = join(path, 'value');
  if (name === undefined) return undefined;
  const fields = typeof r.value === 'string' ? r.value.trim().split(/\s+/) : [];
  const needFields = (n: number): boolean => {
    if (typeof r.value !== 'string' || fields.length !== n) {
      p.add(vp, `${type} needs ${n} field(s)`);
      return false;
    }
    return true;
  };
  const u16 = (s: string | undefined, what: string): number | undefined => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      p.add(vp, `${what} must be 0-65535`);
      return undefined;
    }
    return n;
  };
  switch (type) {
    case 'A': {
      const address = ipv4(p, vp, r.value);
      return address ? { type, name, ttl, address } : undefined;
    }
    case 'AAAA': {
      const address = ipv6(p, vp, r.value);
      return address ? { type, name, ttl, address } : undefined;
    }
    case 'NS':
    case 'CNAME':
    case 'PTR': {
      const target = domain(p, vp, r.value, zone);
      return target ? { type, name, ttl, target } : undefined;
    }
    case 'MX': {
      if (!needFields(2)) return undefined;
      const preference = u16(fields[0], 'preference');
      const exchange = domain(p, vp, fields[1], zone);
      return preference !== undefined && exchange ? { type, name, ttl, preference, exchange } : undefined;
    }
    case 'SRV': {
      if (!needFields(4)) return undefined;
      const [priority, weight, port] = [u16(fields[0], 'priority'), u16(fields[1], 'weight'), u16(fields[2], 'port')];
      const target = domain(p, vp, fields[3], zone);
      if (priority === undefined || weight === undefined || port === undefined || !target) return undefined;
      return { type, name, ttl, priority, weight, port, target };
    }
    case 'TXT': {
      const strings = typeof r.value === 'string' ? splitTxt(r.value) : Array.isArray(r.value) ? r.value : undefined;
      if (
        !strings ||
        strings.length === 0 ||
        !strings.every((s) => typeof s === 'string' && Buffer.byteLength(s) <= 255)
      ) {
        p.add(vp, 'TXT value must be a string or a list of strings of at most 255 bytes each');
        return undefined;
      }
      return { type, name, ttl, strings: strings as string[] };
    }
    case 'CAA': {
      const m = typeof r.value === 'string' ? /^(\d+)\s+([A-Za-z0-9]+)\s+"?([^"]*)"?$/.exec(r.value.trim()) : null;
      if (!m || Number(m[1]) > 255) {
        p.add(vp, 'CAA value must look like: 0 issue "ca.example"');
        return undefined;
      }
      return { type, name, ttl, flags: Number(m[1]), tag: m[2] as string, value: m[3] as string };
    }
  }
  return undefined;
}

/** Long TXT values are split in 255-byte character-strings, as zone files do. */
function splitTxt(s: string): string[] {
  const buf = Buffer.from(s);
  const out: string[] = [];
  for (let i = 0; i < buf.length; i += 255) out.push(buf.subarray(i, i + 255).toString());
  return out.length ? out : [''];
}

function checkCnameExclusive(p: Problems, path: string, records: StaticRecord[], zone: string): void {
  const byName = new Map<string, string[]>();
  for (const r of records) byName.set(r.name, [...(byName.get(r.name) ?? []), r.type]);
  for (const [name, types] of byName) {
    if (types.includes('CNAME') && types.length > 1) p.add(join(path, 'records'), `${name} has a CNAME and other data`);
    if (name === zone && types.includes('CNAME')) p.add(join(path, 'records'), 'the zone apex cannot be a CNAME');
  }
}

/** CNAME loops and over-long chains are refused (the server would otherwise repeat records). */
function checkCnameChains(p: Problems, path: string, records: StaticRecord[]): void {
  const target = new Map<string, string>();
  const index = new Map<string, number>();
  records.forEach((r, i) => {
    if (r.type === 'CNAME') (target.set(r.name, r.target), index.set(r.name, i));
  });
  for (const start of target.keys()) {
    const chain = [start];
    for (let next = target.get(start); next !== undefined; next = target.get(next)) {
      if (chain.includes(next)) {
        // Reported once, at the loop's first name in record order.
        const loop = chain.slice(chain.indexOf(next));
        if (Math.min(...loop.map((n) => index.get(n) as number)) === index.get(start))
          p.add(join(join(path, 'records'), index.get(start) as number), `CNAME loop: ${[...loop, next].join(' -> ')}`);
        break;
      }
      chain.push(next);
      if (chain.length > MAX_CNAME_CHAIN + 1) {
        p.add(
          join(join(path, 'records'), index.get(start) as number),
          `CNAME chain longer than ${MAX_CNAME_CHAIN}: ${chain.join(' -> ')} ...`,
        );
        break;
      }
    }
  }
}

function parseServices(
  p: Problems,
  v: unknown,
  regions: Map<string, Region>,
  zones: Zone[],
  ecsDefault: boolean,
): Service[] {
  const out: Service[] = [];
  if (v === undefined) return out;
  const ss = obj(p, 'services', v);
  if (!ss) return out;
  const names = new Set<string>();
  for (const [key, sv] of Object.entries(ss)) {
    const path = join('services', key);
    const s = obj(p, path, sv, ['name', 'ttl', 'answers', 'pools', 'policy', 'last_resort', 'ecs']);
    if (!s) continue;
    const name = domain(p, join(path, 'name'), s.name, '');
    if (name) {
      const zone = zones.find((z) => inZone(name, z.name));
      if (!zone) p.add(join(path, 'name'), `${name} is not inside any configured zone`);
      else if (zone.records.some((r) => r.name === name && r.type === 'CNAME'))
        p.add(join(path, 'name'), `${name} is also a CNAME`);
      if (names.has(name)) p.add(join(path, 'name'), `${name} is steered by two services`);
      names.add(name);
    }
    const pools = parsePools(p, join(path, 'pools'), s.pools, regions);
    const poolRegions = pools.map((x) => x.region);
    const policy =
      s.policy === undefined
        ? ({ kind: 'nearest' } as Policy)
        : parsePolicy(p, join(path, 'policy'), s.policy, poolRegions);
    const lastResort = (list(p, join(path, 'last_resort'), s.last_resort, { optional: true }) ?? []).map((r, i) =>
      regionRef(p, join(join(path, 'last_resort'), i), r, poolRegions),
    );
    out.push({
      key,
      name: name ?? '',
      ttl: int(p, join(path, 'ttl'), s.ttl, 0, TTL_MAX, 30) ?? 30,
      answers:
        s.answers === 'all'
          ? 0
          : (int(p, join(path, 'answers'), s.answers, 1, 16, policy.kind === 'all-healthy' ? 0 : 1) ?? 1),
      pools,
      policy,
      lastResort: lastResort.filter((r): r is string => r !== undefined),
      ecs: bool(p, join(path, 'ecs'), s.ecs, ecsDefault),
    });
  }
  return out;
}

function parsePools(p: Problems, path: string, v: unknown, regions: Map<string, Region>): Pool[] {
  const out: Pool[] = [];
  const items = list(p, path, v, { nonEmpty: true }) ?? [];
  for (const [i, pv] of items.entries()) {
    const pp = join(path, i);
    // Shorthand: a bare region name uses the region's VIPs.
    const po = typeof pv === 'string' ? { region: pv } : obj(p, pp, pv, ['region', 'vip', 'vip6', 'weight']);
    if (!po) continue;
    const region = typeof po.region === 'string' ? regions.get(po.region) : undefined;
    if (!region) {
      p.add(join(pp, 'region'), `unknown region ${JSON.stringify(po.region)}`);
      continue;
    }
    const vip4 = po.vip === undefined ? region.vip4 : ipv4(p, join(pp, 'vip'), po.vip);
    const vip6 = po.vip6 === undefined ? region.vip6 : ipv6(p, join(pp, 'vip6'), po.vip6);
    if (!vip4 && !vip6 && po.vip === undefined && po.vip6 === undefined)
      p.add(pp, `region ${region.name} has no VIP and the pool sets none`);
    if (out.some((x) => x.region === region.name)) p.add(join(pp, 'region'), `region ${region.name} listed twice`);
    out.push({
      region: region.name,
      vip4,
      vip6,
      weight: num(p, join(pp, 'weight'), po.weight, 0, 1_000_000, region.weight) ?? 1,
    });
  }
  return out;
}

function cronExpr(p: Problems, path: string, v: unknown): string | undefined {
  const s = str(p, path, v);
  if (s !== undefined && !cron.validate(s)) {
    p.add(path, 'not a cron expression (e.g. "0 7 * * 1-5")');
    return undefined;
  }
  return s;
}

function parseSchedules(p: Problems, v: unknown, regions: Map<string, Region>): Schedule[] {
  return (list(p, 'control.schedules', v, { optional: true }) ?? []).flatMap((sv, i) => {
    const path = join('control.schedules', i);
    const s = obj(p, path, sv, [
      'name',
      'cron',
      'timezone',
      'region',
      'status',
      'weight',
      'for_s',
      'force',
      'clear',
      'reason',
    ]);
    if (!s) return [];
    const name = str(p, join(path, 'name'), s.name) ?? `schedule${i}`;
    const expr = cronExpr(p, join(path, 'cron'), s.cron);
    const region = typeof s.region === 'string' && regions.has(s.region) ? s.region : undefined;
    if (!region) p.add(join(path, 'region'), `unknown region ${JSON.stringify(s.region)}`);
    const reason = str(p, join(path, 'reason'), s.reason) ?? '';
    const clear = bool(p, join(path, 'clear'), s.clear, false);
    let status: RegionStatus | undefined;
    if (s.status !== undefined) {
      if (isRegionStatus(s.status)) status = s.status;
      else p.add(join(path, 'status'), `must be ${REGION_STATUSES.join(', ')}`);
    }
    const weight = s.weight === undefined ? undefined : num(p, join(path, 'weight'), s.weight, 0, 1_000_000);
    if (!clear && status === undefined && weight === undefined) p.add(path, 'needs status, weight, or clear: true');
    if (clear && (status !== undefined || weight !== undefined))
      p.add(path, 'clear: true cannot also set status or weight');
    if (s.timezone !== undefined && typeof s.timezone === 'string') {
      try {
        new Intl.DateTimeFormat('en', { timeZone: s.timezone });
      } catch {
        p.add(join(path, 'timezone'), 'not an IANA time zone (e.g. Europe/Dublin)');
      }
    }
    if (!expr || !region) return [];
    return [
      {
        name,
        cron: expr,
        timezone: str(p, join(path, 'timezone'), s.timezone, { optional: true }),
        region,
        reason,
        action: clear
          ? { kind: 'clear' as const }
          : {
              kind: 'set' as const,
              status,
              weight,
              forS: s.for_s === undefined ? undefined : int(p, join(path, 'for_s'), s.for_s, 1, 31_536_000),
              force: bool(p, join(path, 'force'), s.force, false),
            },
      },
    ];
  });
}

function parseControl(p: Problems, v: unknown, regions: Map<string, Region>): ControlSettings | undefined {
  if (v === undefined || v === null) return undefined;
  const c = obj(p, 'control', v, ['store', 'lease_ms', 'heartbeat_ms', 'max_regions_out', 'api', 'schedules']) ?? {};
  const s = obj(p, 'control.store', c.store, ['file', 'etcd', 'prefix']) ?? {};
  let store: ControlSettings['store'] = { kind: 'file', path: '/var/lib/gtm/state.json' };
  if (s.file !== undefined && s.etcd !== undefined) p.add('control.store', 'choose one of file or etcd');
  if (s.etcd !== undefined) {
    const endpoints = (list(p, 'control.store.etcd', s.etcd, { nonEmpty: true }) ?? []).map(
      (e, i) =>
        str(p, join('control.store.etcd', i), e, {
          pattern: /^https?:\/\/[^/]+$/,
          what: 'an endpoint URL like http://127.0.0.1:2379',
        }) ?? '',
    );
    store = { kind: 'etcd', endpoints, prefix: str(p, 'control.store.prefix', s.prefix ?? '/gtm/') ?? '/gtm/' };
  } else if (s.file !== undefined) {
    store = { kind: 'file', path: str(p, 'control.store.file', s.file) ?? '' };
  } else p.add('control.store', 'needs file: PATH or etcd: [URL, ...]');
  const heartbeatMs = int(p, 'control.heartbeat_ms', c.heartbeat_ms, 50, 60_000, 500) ?? 500;
  const leaseMs = int(p, 'control.lease_ms', c.lease_ms, 100, 600_000, 3000) ?? 3000;
  if (leaseMs < 2 * heartbeatMs)
    p.add(
      'control.lease_ms',
      `must be at least twice heartbeat_ms (${heartbeatMs}) so one lost heartbeat does not expire it`,
    );
  const a = (c.api === undefined ? {} : obj(p, 'control.api', c.api, ['listen', 'tokens', 'audit_log'])) ?? {};
  // Tokens come from the environment, never from the file itself.
  const tokens = (list(p, 'control.api.tokens', a.tokens, { optional: true }) ?? []).flatMap((tv, i) => {
    const tp = join('control.api.tokens', i);
    const t = obj(p, tp, tv, ['name', 'env']) ?? {};
    const name = str(p, join(tp, 'name'), t.name);
    const env = str(p, join(tp, 'env'), t.env, { pattern: /^[A-Z_][A-Z0-9_]*$/, what: 'an environment variable name' });
    const token = env ? process.env[env] : undefined;
    if (env && (!token || token.length < 16))
      p.add(join(tp, 'env'), `environment variable ${env} must hold a token of at least 16 characters`);
    return name && token && token.length >= 16 ? [{ name, token }] : [];
  });
  const defaultAudit =
    store.kind === 'file' ? `${store.path.replace(/\.json$/, '')}.audit.jsonl` : '/var/lib/gtm/audit.jsonl';
  return {
    store,
    leaseMs,
    heartbeatMs,
    maxRegionsOut:
      num(p, 'control.max_regions_out', c.max_regions_out, 0, 1, DEFAULT_MAX_REGIONS_OUT) ?? DEFAULT_MAX_REGIONS_OUT,
    schedules: parseSchedules(p, c.schedules, regions),
    api: {
      listen: (a.listen === undefined
        ? { host: '127.0.0.1', port: 9190 }
        : hostPort(p, 'control.api.listen', a.listen)) ?? { host: '127.0.0.1', port: 9190 },
      tokens,
      auditLog: str(p, 'control.api.audit_log', a.audit_log ?? defaultAudit) ?? defaultAudit,
    },
  };
}
