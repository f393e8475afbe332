// Turns the parsed YAML document into a validated Config, listing every problem by path.
import {
  TSIG_ALGORITHMS,
  type CapacityRule,
  type Config,
  type DnsSettings,
  type UdpIo,
  type UdpSockets,
  type MinChildren,
  type Region,
  type RrlSettings,
  type TsigKey,
} from './types.js';
import { parseCidr } from '../net/index.js';
import { REGION_STATUSES } from '../contract/index.js';
import { parseAnycast, parseCheck, parsePops } from './pops.js';
import { Problems, bool, hostPort, int, ipv4, ipv6, join, list, num, obj, str } from '../validate/index.js';
import { absoluteOf, isRegionStatus, REGION_NAME } from './names.js';
import { parseZones, type ZoneFileReader } from './zones.js';
import { parseServices } from './services.js';
import { fenceUsesAsn } from '../policy/index.js';
import { EMBEDDED_ASN } from '../geo/types.js';
import { parseControl, cronExpr } from './control.js';
import { checkHealthRefs, checkMinChildren, parseHealth } from './health.js';

export { absoluteName, validDomainName } from './names.js';

export function parseConfigObject(
  doc: unknown,
  readZoneFile?: ZoneFileReader,
): { config?: Config; problems: string[] } {
  const p = new Problems();
  const root = obj(p, '', doc, ['dns', 'geo', 'regions', 'zones', 'services', 'anycast', 'pops', 'control']);
  if (!root) return { problems: p.list };

  const dns = parseDns(p, root.dns, readZoneFile);
  const geoObj =
    root.geo === undefined || root.geo === null
      ? {}
      : obj(p, 'geo', root.geo, ['database', 'reload_cron', 'asn_database']);
  const geoBase = {
    database: geoObj ? str(p, 'geo.database', geoObj.database, { optional: true }) : undefined,
    reloadCron: geoObj?.reload_cron === undefined ? undefined : cronExpr(p, 'geo.reload_cron', geoObj.reload_cron),
  };
  const regions = parseRegions(p, root.regions);
  const zones = parseZones(p, root.zones, readZoneFile);
  for (const z of zones)
    for (const [i, key] of (z.transfer?.tsig ?? []).entries())
      if (!dns.tsigKeys.some((k) => k.name === key))
        p.add(join(join(join('zones', z.name), 'transfer.tsig'), i), `no key ${key} in dns.tsig_keys`);
  for (const z of zones)
    if (z.secondary?.tsig && !dns.tsigKeys.some((k) => k.name === z.secondary?.tsig))
      p.add(join(join('zones', z.name), 'primary_tsig'), `no key ${z.secondary.tsig} in dns.tsig_keys`);
  const services = parseServices(p, root.services, regions, zones, dns.ecs);
  // AS data is loaded (500k ranges, ~1.5 s per worker) only when some fence reads it.
  const asnSetting = geoObj ? str(p, 'geo.asn_database', geoObj.asn_database, { optional: true }) : undefined;
  const geo = {
    ...geoBase,
    asnDatabase: services.some((s) => fenceUsesAsn(s.fence)) ? (asnSetting ?? EMBEDDED_ASN) : undefined,
  };
  const anycast = parseAnycast(p, root.anycast);
  const pops = parsePops(p, root.pops, regions, anycast);
  const control = parseControl(p, root.control, regions);
  checkHealthRefs(p, regions, control?.signals ?? new Map(), services);
  checkMinChildren(p, regions, pops);

  if (!p.ok) return { problems: p.list };
  return { config: { dns, geo, regions, zones, services, pops, anycast, control }, problems: [] };
}

/** 4 MiB of UDP receive buffer: about 3,800 queries of a burst (the kernel's default holds ~190). */
const UDP_RECEIVE_BUFFER = 4 * 1024 * 1024;

const absolutePath = (p: Problems, path: string, v: unknown) =>
  str(p, path, v, { optional: true, pattern: /^\//, what: 'an absolute path' });

function parseDns(p: Problems, v: unknown, readFile?: ZoneFileReader): DnsSettings {
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
          'tcp_message_ms',
          'tcp_max_connections',
          'tcp_max_per_source',
          'udp_receive_buffer',
          'udp_receive_buffer_saturated',
          'io',
          'udp_sockets',
          'max_scope_v4',
          'max_scope_v6',
          'unstable_ttl',
          'unstable_window_s',
          'rrl',
          'miss_budget',
          'over_budget',
          'dnstap',
          'nsid',
          'tsig_keys',
          'serial_file',
          'secondary_dir',
          'cookie_secret_env',
        ])) ?? {};
  const { listen, alsoListen } = parseListens(p, d.listen);
  let workers = 1;
  if (d.workers === undefined || d.workers === 'auto') workers = 0;
  else workers = int(p, 'dns.workers', d.workers, 1, 64) ?? 1;
  return {
    listen,
    alsoListen,
    workers,
    maxUdpSize: int(p, 'dns.max_udp_size', d.max_udp_size, 512, 65535, 1232) ?? 1232,
    ecs: bool(p, 'dns.ecs', d.ecs, true),
    queryLogSample: num(p, 'dns.query_log_sample', d.query_log_sample, 0, 1, 0) ?? 0,
    metrics: d.metrics === undefined ? undefined : hostPort(p, 'dns.metrics', d.metrics),
    tcpIdleMs: int(p, 'dns.tcp_idle_ms', d.tcp_idle_ms, 100, 600_000, 10_000) ?? 10_000,
    tcpMessageMs: int(p, 'dns.tcp_message_ms', d.tcp_message_ms, 100, 60_000, 3000) ?? 3000,
    tcpMaxConnections: int(p, 'dns.tcp_max_connections', d.tcp_max_connections, 1, 100_000, 1000) ?? 1000,
    tcpMaxPerSource: int(p, 'dns.tcp_max_per_source', d.tcp_max_per_source, 1, 100_000, 32) ?? 32,
    udpReceiveBuffer:
      int(p, 'dns.udp_receive_buffer', d.udp_receive_buffer, 0, 1 << 30, UDP_RECEIVE_BUFFER) ?? UDP_RECEIVE_BUFFER,
    udpReceiveBufferSaturated:
      int(p, 'dns.udp_receive_buffer_saturated', d.udp_receive_buffer_saturated, 0, 1 << 30, 65_536) ?? 65_536,
    io: udpIo(p, d.io),
    udpSockets: udpSockets(p, d.udp_sockets),
    maxScope4: int(p, 'dns.max_scope_v4', d.max_scope_v4, 0, 32, 24) ?? 24,
    maxScope6: int(p, 'dns.max_scope_v6', d.max_scope_v6, 0, 128, 56) ?? 56,
    unstableTtl: int(p, 'dns.unstable_ttl', d.unstable_ttl, 0, 86_400, 5) ?? 5,
    unstableWindowS: int(p, 'dns.unstable_window_s', d.unstable_window_s, 0, 86_400, 300) ?? 300,
    rrl: d.rrl === undefined || d.rrl === null ? undefined : parseRrl(p, d.rrl),
    missBudget: int(p, 'dns.miss_budget', d.miss_budget, 0, 1_000_000, 2) ?? 2,
    overBudget: overBudget(p, d.over_budget),
    dnstap: d.dnstap === undefined || d.dnstap === null ? undefined : parseDnstap(p, d.dnstap),
    nsid: nsidOf(p, d.nsid),
    cookieSecret: cookieSecretOf(p, d.cookie_secret_env),
    serialFile: absolutePath(p, 'dns.serial_file', d.serial_file),
    secondaryDir: absolutePath(p, 'dns.secondary_dir', d.secondary_dir) ?? '/var/lib/gtm/secondary',
    tsigKeys: (list(p, 'dns.tsig_keys', d.tsig_keys, { optional: true }) ?? []).flatMap((k, i) => {
      const key = tsigKeyOf(p, join('dns.tsig_keys', i), k, readFile);
      return key ? [key] : [];
    }),
  };
}

/** `{ name, algorithm, secret_env | secret_file }`: the secret base64 (as BIND and Knot write it). */
function tsigKeyOf(p: Problems, path: string, v: unknown, readFile?: ZoneFileReader): TsigKey | undefined {
  const k = obj(p, path, v, ['name', 'algorithm', 'secret_env', 'secret_file']);
  if (!k) return undefined;
  const name = str(p, join(path, 'name'), k.name);
  const algorithm = k.algorithm === undefined ? 'hmac-sha256' : k.algorithm;
  if (!(TSIG_ALGORITHMS as readonly unknown[]).includes(algorithm))
    p.add(join(path, 'algorithm'), `must be one of ${TSIG_ALGORITHMS.join(', ')}`);
  if ((k.secret_env === undefined) === (k.secret_file === undefined)) {
    p.add(path, 'give the secret as secret_env (a variable name) or secret_file (a path), one of them');
    return undefined;
  }
  let text: string | undefined;
  if (k.secret_env !== undefined) {
    const env = str(p, join(path, 'secret_env'), k.secret_env);
    text = env === undefined ? undefined : process.env[env];
    if (env !== undefined && !text) p.add(join(path, 'secret_env'), `${env} is not set`);
  } else {
    const file = str(p, join(path, 'secret_file'), k.secret_file);
    try {
      text = file === undefined || !readFile ? undefined : readFile(file).text;
    } catch (err) {
      p.add(join(path, 'secret_file'), (err as Error).message);
    }
  }
  // The secret's bytes; its text never goes into a problem.
  const secret = text === undefined ? undefined : Buffer.from(text.trim(), 'base64');
  if (text !== undefined && (!secret || secret.length < 16 || !/^[A-Za-z0-9+/=\s]+$/.test(text)))
    p.add(path, 'the secret must be base64 of at least 16 bytes');
  if (!name || !secret || secret.length < 16 || !(TSIG_ALGORITHMS as readonly unknown[]).includes(algorithm))
    return undefined;
  return {
    name: absoluteOf(name),
    algorithm: algorithm as TsigKey['algorithm'],
    secret,
  };
}

/**
 * dns.cookie_secret_env: the variable holding the server cookie secret, 32 hex digits (16 bytes,
 * RFC 9018), shared by every server of an anycast set. Its text never goes into a problem.
 */
function cookieSecretOf(p: Problems, v: unknown): Uint8Array | undefined {
  const env = str(p, 'dns.cookie_secret_env', v, { optional: true });
  if (env === undefined) return undefined;
  const text = process.env[env]?.trim();
  if (!text) p.add('dns.cookie_secret_env', `${env} is not set`);
  else if (!/^[0-9a-fA-F]{32}$/.test(text)) p.add('dns.cookie_secret_env', `${env} must hold 32 hex digits (16 bytes)`);
  else return Uint8Array.from(Buffer.from(text, 'hex'));
  return undefined;
}

/** dns.nsid: text, or `hex:` and its bytes (as Knot takes it); at most 128 bytes. */
function nsidOf(p: Problems, v: unknown): Uint8Array | undefined {
  if (v === undefined || v === null) return undefined;
  const s = str(p, 'dns.nsid', v);
  if (s === undefined) return undefined;
  const hex = /^hex:((?:[0-9a-fA-F]{2})+)$/.exec(s);
  const bytes = hex ? Buffer.from(hex[1] as string, 'hex') : Buffer.from(s);
  if (s.startsWith('hex:') && !hex) p.add('dns.nsid', 'hex: must be followed by pairs of hex digits');
  else if (bytes.length > 128) p.add('dns.nsid', 'at most 128 bytes');
  else return new Uint8Array(bytes);
  return undefined;
}

function parseDnstap(p: Problems, v: unknown): DnsSettings['dnstap'] {
  const t = obj(p, 'dns.dnstap', v, ['file', 'identity', 'buffer_kb']);
  if (!t) return undefined;
  const file = str(p, 'dns.dnstap.file', t.file);
  if (file === undefined) return undefined;
  return {
    file,
    identity: str(p, 'dns.dnstap.identity', t.identity, { optional: true }),
    bufferBytes: (int(p, 'dns.dnstap.buffer_kb', t.buffer_kb, 16, 1_048_576, 4096) ?? 4096) * 1024,
  };
}

/** dns.listen: one address, or a list (v4 and v6, each on UDP and TCP); the first may have port 0. */
function parseListens(p: Problems, v: unknown): Pick<DnsSettings, 'listen' | 'alsoListen'> {
  const listens = Array.isArray(v)
    ? v.map((x, i) => hostPort(p, join('dns.listen', i), x))
    : [v === undefined ? { host: '127.0.0.1', port: 5353 } : hostPort(p, 'dns.listen', v)];
  if (Array.isArray(v) && v.length === 0) p.add('dns.listen', 'must name at least one address');
  const alsoListen = listens.slice(1).filter((x): x is { host: string; port: number } => x !== undefined);
  alsoListen.forEach((x, i) => {
    if (x.port === 0) p.add(join('dns.listen', i + 1), 'needs a port (only the first address may take any free one)');
  });
  const seen = new Set<string>();
  for (const x of listens)
    if (x && seen.size === seen.add(`${x.host}|${x.port}`).size)
      p.add('dns.listen', `${x.host}:${x.port} is listed twice`);
  return { listen: listens[0] ?? { host: '127.0.0.1', port: 5353 }, alsoListen };
}

function udpIo(p: Problems, v: unknown): UdpIo {
  if (v === undefined || v === 'auto' || v === 'batched' || v === 'dgram') return v ?? 'auto';
  p.add('dns.io', 'must be auto, batched or dgram');
  return 'auto';
}

function udpSockets(p: Problems, v: unknown): UdpSockets {
  if (v === undefined || v === 'shared' || v === 'per-worker') return v ?? 'shared';
  p.add('dns.udp_sockets', 'must be shared or per-worker');
  return 'shared';
}

function overBudget(p: Problems, v: unknown): DnsSettings['overBudget'] {
  if (v === undefined || v === 'truncate' || v === 'drop') return v ?? 'truncate';
  p.add('dns.over_budget', 'must be truncate or drop');
  return 'truncate';
}

/** dns.rrl: rates as BIND names them; every kind defaults to responses_per_second. */
function parseRrl(p: Problems, v: unknown): RrlSettings | undefined {
  const r = obj(p, 'dns.rrl', v, [
    'responses_per_second',
    'nodata_per_second',
    'nxdomains_per_second',
    'referrals_per_second',
    'errors_per_second',
    'window_s',
    'slip',
    'ipv4_prefix',
    'ipv6_prefix',
    'exempt',
    'table_size',
  ]);
  if (!r) return undefined;
  const rate = (key: string, fallback: number) => int(p, `dns.rrl.${key}`, r[key], 0, 1_000_000, fallback) ?? fallback;
  const responses = rate('responses_per_second', 10);
  const exempt: RrlSettings['exempt'] = [];
  (list(p, 'dns.rrl.exempt', r.exempt, { optional: true }) ?? []).forEach((c, i) => {
    const parsed = typeof c === 'string' ? parseCidr(c) : undefined;
    if (parsed) exempt.push(parsed);
    else p.add(`dns.rrl.exempt[${i}]`, 'must be an address prefix such as 192.0.2.0/24 or 2001:db8::/32');
  });
  return {
    perSecond: {
      answer: responses,
      nodata: rate('nodata_per_second', responses),
      nxdomain: rate('nxdomains_per_second', responses),
      referral: rate('referrals_per_second', responses),
      error: rate('errors_per_second', responses),
    },
    windowS: int(p, 'dns.rrl.window_s', r.window_s, 1, 3600, 15) ?? 15,
    slip: int(p, 'dns.rrl.slip', r.slip, 0, 10, 2) ?? 2,
    ipv4Prefix: int(p, 'dns.rrl.ipv4_prefix', r.ipv4_prefix, 0, 32, 24) ?? 24,
    ipv6Prefix: int(p, 'dns.rrl.ipv6_prefix', r.ipv6_prefix, 0, 128, 56) ?? 56,
    exempt,
    tableSize: int(p, 'dns.rrl.table_size', r.table_size, 100, 10_000_000, 100_000) ?? 100_000,
  };
}

/** `capacity: { shed_above, release_below, max_shed, rate_per_s }` of a region (src/state/capacity.ts). */
function parseCapacity(p: Problems, path: string, v: unknown): CapacityRule | undefined {
  const c = obj(p, path, v, ['shed_above', 'release_below', 'max_shed', 'rate_per_s']);
  if (!c) return undefined;
  const shedAbove = num(p, join(path, 'shed_above'), c.shed_above, 0, 100, 0.9) ?? 0.9;
  const releaseBelow =
    num(p, join(path, 'release_below'), c.release_below, 0, 100, Math.round(shedAbove * 800) / 1000) ?? 0;
  if (releaseBelow > shedAbove)
    p.add(join(path, 'release_below'), 'must not be above shed_above (the band is the hysteresis)');
  return {
    shedAbove,
    releaseBelow,
    maxShed: num(p, join(path, 'max_shed'), c.max_shed, 0, 1, 0.8) ?? 0.8,
    ratePerS: num(p, join(path, 'rate_per_s'), c.rate_per_s, 0.001, 1, 0.05) ?? 0.05,
  };
}

/** `min_children: N` (each family) or `{ ipv4: N, ipv6: M }` (a family left out: 0, not judged apart). */
function parseMinChildren(p: Problems, path: string, v: unknown): MinChildren {
  if (typeof v === 'number') {
    const n = int(p, path, v, 0, 1000) ?? 1;
    return { ipv4: n, ipv6: n };
  }
  const m = obj(p, path, v, ['ipv4', 'ipv6']);
  return {
    ipv4: (m && int(p, join(path, 'ipv4'), m.ipv4, 0, 1000, 0)) ?? 0,
    ipv6: (m && int(p, join(path, 'ipv6'), m.ipv6, 0, 1000, 0)) ?? 0,
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
    const r = obj(p, path, rv, [
      'vip',
      'vip6',
      'location',
      'country',
      'weight',
      'state',
      'check',
      'capacity',
      'health',
      'min_children',
    ]);
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
      check: r.check === undefined ? undefined : parseCheck(p, join(path, 'check'), r.check),
      ...(r.capacity === undefined ? {} : { capacity: parseCapacity(p, join(path, 'capacity'), r.capacity) }),
      ...(r.health === undefined ? {} : { health: parseHealth(p, join(path, 'health'), r.health) }),
      ...(r.min_children === undefined
        ? {}
        : { minChildren: parseMinChildren(p, join(path, 'min_children'), r.min_children) }),
    };
    if (r.state !== undefined) {
      if (isRegionStatus(r.state)) region.status = r.state;
      else p.add(join(path, 'state'), `must be ${REGION_STATUSES.join(', ')}`);
    }
    out.set(name, region);
  }
  return out;
}
