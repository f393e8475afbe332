// The `pops` section: each PoP's agent, its BGP sidecar, VIPs, LB nodes and checks.
import type { AnycastVip, BgpSettings, Check, Pop, Region, Vip } from './types.js';
import { Problems, bool, hostPort, int, ip, ipv4, join, list, num, obj, str } from '../validate/index.js';

const COMMUNITY = /^\d{1,5}:\d{1,5}$/;
const LARGE = /^\d{1,10}:\d{1,10}:\d{1,10}$/;

function strings(p: Problems, path: string, v: unknown, pattern: RegExp, what: string): string[] {
  return (list(p, path, v, { optional: true }) ?? [])
    .map((x, i) => str(p, join(path, i), x, { pattern, what }))
    .filter((x): x is string => x !== undefined);
}

/** `anycast: { NAME: { address, min_announcing, max_withdrawn_share, window_s } }`: shared VIPs. */
export function parseAnycast(p: Problems, v: unknown): Map<string, AnycastVip> {
  const out = new Map<string, AnycastVip>();
  if (v === undefined || v === null) return out;
  for (const [name, av] of Object.entries(obj(p, 'anycast', v) ?? {})) {
    const path = join('anycast', name);
    if (!/^[a-z][a-z0-9-]{0,62}$/.test(name)) p.add(path, 'names use lower-case letters, digits and dashes');
    const a = obj(p, path, av, ['address', 'min_announcing', 'max_withdrawn_share', 'window_s']);
    if (!a) continue;
    const address = ip(p, join(path, 'address'), a.address);
    if (!address) continue;
    out.set(name, {
      name,
      address,
      minAnnouncing: int(p, join(path, 'min_announcing'), a.min_announcing, 0, 1000, 1) ?? 1,
      maxWithdrawnShare: num(p, join(path, 'max_withdrawn_share'), a.max_withdrawn_share, 0, 1, 0.5) ?? 0.5,
      windowMs: (int(p, join(path, 'window_s'), a.window_s, 1, 86_400, 60) ?? 60) * 1000,
    });
  }
  return out;
}

export function parsePops(
  p: Problems,
  v: unknown,
  regions: Map<string, Region>,
  anycast: Map<string, AnycastVip> = new Map(),
): Pop[] {
  if (v === undefined || v === null) return [];
  const pops = obj(p, 'pops', v);
  const out: Pop[] = [];
  for (const [name, pv] of Object.entries(pops ?? {})) {
    const path = join('pops', name);
    const o = obj(p, path, pv, ['region', 'api', 'metrics', 'maintenance_file', 'bgp', 'vips']);
    if (!o) continue;
    const region = typeof o.region === 'string' ? regions.get(o.region) : undefined;
    if (!region) p.add(join(path, 'region'), `unknown region ${JSON.stringify(o.region)}`);
    const bgp = parseBgp(p, join(path, 'bgp'), o.bgp);
    const vips = (list(p, join(path, 'vips'), o.vips, { nonEmpty: true }) ?? []).map((x, i) =>
      parseVip(p, join(join(path, 'vips'), i), x, region, anycast),
    );
    for (const vip of vips) {
      if (!vip) continue;
      const fam = vip.prefix.includes(':') ? 6 : 4;
      if (fam === 4 && !bgp.nextHop) p.add(join(path, 'bgp.next_hop'), `needed for IPv4 VIP ${vip.prefix}`);
      if (fam === 6 && !bgp.nextHop6) p.add(join(path, 'bgp.next_hop6'), `needed for IPv6 VIP ${vip.prefix}`);
    }
    out.push({
      name,
      region: region?.name ?? '',
      api: (o.api === undefined ? { host: '127.0.0.1', port: 9180 } : hostPort(p, join(path, 'api'), o.api)) ?? {
        host: '127.0.0.1',
        port: 9180,
      },
      // Metrics alone (read-only, no token) where Prometheus reaches them; the API stays on loopback.
      ...(o.metrics === undefined ? {} : { metrics: hostPort(p, join(path, 'metrics'), o.metrics) }),
      maintenanceFile: str(p, join(path, 'maintenance_file'), o.maintenance_file, { optional: true }),
      bgp,
      vips: vips.filter((x): x is Vip => x !== undefined),
    });
  }
  // A shared VIP's guard rail needs as many PoPs as it promises to keep announcing.
  for (const a of anycast.values()) {
    const n = out.filter((pop) => pop.vips.some((x) => x.shared === a)).length;
    if (n === 0) p.add(join('anycast', a.name), 'no PoP announces it (address: anycast:NAME in a PoP VIP)');
    else if (a.minAnnouncing >= n)
      p.add(
        join(join('anycast', a.name), 'min_announcing'),
        `must be below the ${n} PoPs announcing it, or no PoP could ever withdraw it`,
      );
  }
  return out;
}

/** The routers a PoP's gobgpd peers with. */
function parseNeighbors(p: Problems, path: string, v: unknown): BgpSettings['neighbors'] {
  return (list(p, path, v, { nonEmpty: true }) ?? []).map((nv, i) => {
    const np = join(path, i);
    const n = obj(p, np, nv, ['address', 'asn', 'passive', 'hold_time']) ?? {};
    return {
      address: ip(p, join(np, 'address'), n.address) ?? '',
      asn: int(p, join(np, 'asn'), n.asn, 1, 4294967295) ?? 0,
      // Passive by default: gobgpd's own connect waits 5-10 s, the router connecting is faster.
      passive: bool(p, join(np, 'passive'), n.passive, true),
      holdTime: int(p, join(np, 'hold_time'), n.hold_time, 3, 65535, 9) ?? 9,
    };
  });
}

/** How a drain looks in BGP before the withdrawal. */
function parseDrain(p: Problems, path: string, v: unknown): BgpSettings['drain'] {
  const drain = (v === undefined ? {} : obj(p, path, v, ['duration_ms', 'communities', 'med', 'prepend'])) ?? {};
  return {
    durationMs: int(p, join(path, 'duration_ms'), drain.duration_ms, 0, 3_600_000, 5000) ?? 5000,
    // RFC 8326 GRACEFUL_SHUTDOWN by default; the router's policy turns it into local-pref 0.
    communities:
      drain.communities === undefined
        ? ['65535:0']
        : strings(p, join(path, 'communities'), drain.communities, COMMUNITY, 'a community ASN:VALUE'),
    med: drain.med === undefined ? undefined : int(p, join(path, 'med'), drain.med, 0, 4294967295),
    prepend: int(p, join(path, 'prepend'), drain.prepend, 0, 10, 0) ?? 0,
  };
}

function parseBgp(p: Problems, path: string, v: unknown): BgpSettings {
  const b =
    obj(p, path, v, [
      'asn',
      'router_id',
      'api',
      'manage_gobgpd',
      'gobgpd_binary',
      'proto_dir',
      'listen_port',
      'listen_addresses',
      'neighbors',
      'next_hop',
      'next_hop6',
      'med',
      'communities',
      'large_communities',
      'origin',
      'hold_down_ms',
      'drain',
      'on_agent_death',
      'agent_liveness_ms',
      'bfd_socket',
    ]) ?? {};
  const origin = b.origin ?? 'igp';
  if (origin !== 'igp' && origin !== 'egp' && origin !== 'incomplete')
    p.add(join(path, 'origin'), 'must be igp, egp or incomplete');
  const death = b.on_agent_death ?? 'withdraw';
  if (death !== 'withdraw' && death !== 'keep') p.add(join(path, 'on_agent_death'), 'must be withdraw or keep');
  return {
    asn: int(p, join(path, 'asn'), b.asn, 1, 4294967295) ?? 0,
    routerId: ipv4(p, join(path, 'router_id'), b.router_id) ?? '',
    api: str(p, join(path, 'api'), b.api ?? '127.0.0.1:50051') ?? '127.0.0.1:50051',
    manageGobgpd: bool(p, join(path, 'manage_gobgpd'), b.manage_gobgpd, true),
    gobgpdBinary: str(p, join(path, 'gobgpd_binary'), b.gobgpd_binary ?? 'gobgpd') ?? 'gobgpd',
    // Default: the definitions in the repository (gobgp/api), pinned to the gobgpd setup installs.
    protoDir: b.proto_dir === undefined ? undefined : str(p, join(path, 'proto_dir'), b.proto_dir),
    listenPort: int(p, join(path, 'listen_port'), b.listen_port, -1, 65535, 179) ?? 179,
    listenAddresses: (list(p, join(path, 'listen_addresses'), b.listen_addresses, { optional: true }) ?? []).map(
      (x, i) => ip(p, join(join(path, 'listen_addresses'), i), x) ?? '',
    ),
    neighbors: parseNeighbors(p, join(path, 'neighbors'), b.neighbors),
    nextHop: b.next_hop === undefined ? undefined : ipv4(p, join(path, 'next_hop'), b.next_hop),
    nextHop6: b.next_hop6 === undefined ? undefined : ip(p, join(path, 'next_hop6'), b.next_hop6),
    med: b.med === undefined ? undefined : int(p, join(path, 'med'), b.med, 0, 4294967295),
    communities: strings(p, join(path, 'communities'), b.communities, COMMUNITY, 'a community ASN:VALUE'),
    largeCommunities: strings(
      p,
      join(path, 'large_communities'),
      b.large_communities,
      LARGE,
      'a large community A:B:C',
    ),
    origin: origin as BgpSettings['origin'],
    holdDownMs: int(p, join(path, 'hold_down_ms'), b.hold_down_ms, 0, 3_600_000, 2000) ?? 2000,
    drain: parseDrain(p, join(path, 'drain'), b.drain),
    onAgentDeath: death as BgpSettings['onAgentDeath'],
    agentLivenessMs: int(p, join(path, 'agent_liveness_ms'), b.agent_liveness_ms, 500, 60_000, 2000) ?? 2000,
    bfdSocket: str(p, join(path, 'bfd_socket'), b.bfd_socket, { optional: true }),
  };
}

function parseVip(
  p: Problems,
  path: string,
  v: unknown,
  region: Region | undefined,
  anycast: Map<string, AnycastVip>,
): Vip | undefined {
  const o = obj(p, path, v, [
    'address',
    'nodes',
    'checks',
    'min_healthy',
    'interval_ms',
    'fast_interval_ms',
    'rise',
    'fall',
    'passive',
    'load',
  ]);
  if (!o) return undefined;
  // `address: vip` / `address: vip6` take the region's VIPs; `anycast:NAME` a shared one.
  const shared =
    typeof o.address === 'string' && o.address.startsWith('anycast:') ? anycast.get(o.address.slice(8)) : undefined;
  if (typeof o.address === 'string' && o.address.startsWith('anycast:') && !shared)
    p.add(join(path, 'address'), `no anycast VIP named ${o.address.slice(8)} (declare it under anycast:)`);
  const raw = shared
    ? shared.address
    : o.address === 'vip'
      ? region?.vip4
      : o.address === 'vip6'
        ? region?.vip6
        : o.address;
  const address = ip(p, join(path, 'address'), raw);
  const nodes = (list(p, join(path, 'nodes'), o.nodes, { nonEmpty: true }) ?? []).map((nv, i) => {
    const n = obj(p, join(join(path, 'nodes'), i), nv, ['name', 'address']) ?? {};
    const np = join(join(path, 'nodes'), i);
    return {
      name: str(p, join(np, 'name'), n.name) ?? `node${i}`,
      address: ip(p, join(np, 'address'), n.address) ?? '',
    };
  });
  const checks = (list(p, join(path, 'checks'), o.checks, { nonEmpty: true }) ?? [])
    .map((cv, i) => parseCheck(p, join(join(path, 'checks'), i), cv))
    .filter((c): c is Check => c !== undefined);
  let minHealthy: number | string = 1;
  if (
    typeof o.min_healthy === 'string' &&
    /^\d{1,3}%$/.test(o.min_healthy) &&
    Number(o.min_healthy.slice(0, -1)) <= 100
  )
    minHealthy = o.min_healthy;
  else if (o.min_healthy !== undefined)
    minHealthy = int(p, join(path, 'min_healthy'), o.min_healthy, 1, Math.max(1, nodes.length)) ?? 1;
  if (!address) return undefined;
  const intervalMs = int(p, join(path, 'interval_ms'), o.interval_ms, 10, 600_000, 1000) ?? 1000;
  return {
    prefix: `${address}/${address.includes(':') ? 128 : 32}`,
    ...(shared ? { shared } : {}),
    nodes,
    checks,
    minHealthy,
    intervalMs,
    // While a node changes state it is probed faster, so rise/fall complete sooner.
    fastIntervalMs:
      int(
        p,
        join(path, 'fast_interval_ms'),
        o.fast_interval_ms,
        10,
        600_000,
        Math.max(10, Math.floor(intervalMs / 2)),
      ) ?? intervalMs,
    rise: int(p, join(path, 'rise'), o.rise, 1, 100, 2) ?? 2,
    fall: int(p, join(path, 'fall'), o.fall, 1, 100, 3) ?? 3,
    ...signalsOf(p, path, o),
  };
}

/** A VIP's signals besides its probes: the passive error rate and the cluster's load. */
function signalsOf(p: Problems, path: string, o: Record<string, unknown>): Pick<Vip, 'passive' | 'load'> {
  const passive =
    o.passive === undefined
      ? undefined
      : obj(p, join(path, 'passive'), o.passive, ['url', 'max_error_rate', 'interval_ms']);
  const load =
    o.load === undefined ? undefined : obj(p, join(path, 'load'), o.load, ['url', 'capacity', 'interval_ms']);
  return {
    passive: passive
      ? {
          url: str(p, join(path, 'passive.url'), passive.url) ?? '',
          maxErrorRate: num(p, join(path, 'passive.max_error_rate'), passive.max_error_rate, 0, 1, 0.05) ?? 0.05,
          intervalMs: int(p, join(path, 'passive.interval_ms'), passive.interval_ms, 100, 600_000, 5000) ?? 5000,
        }
      : undefined,
    ...(load
      ? {
          load: {
            url: str(p, join(path, 'load.url'), load.url, { pattern: /^https?:\/\//, what: 'an http(s) URL' }) ?? '',
            capacity: num(p, join(path, 'load.capacity'), load.capacity, 1e-9, 1e12) ?? 1,
            intervalMs: int(p, join(path, 'load.interval_ms'), load.interval_ms, 100, 600_000, 2000) ?? 2000,
          },
        }
      : {}),
  };
}

export function parseCheck(p: Problems, path: string, v: unknown): Check | undefined {
  const c = obj(p, path, v, [
    'type',
    'port',
    'path',
    'method',
    'expect_status',
    'body',
    'host',
    'timeout_ms',
    'name',
    'qtype',
    'command',
  ]);
  if (!c) return undefined;
  const timeoutMs = int(p, join(path, 'timeout_ms'), c.timeout_ms, 1, 60_000, 1000) ?? 1000;
  switch (c.type) {
    case 'http':
    case 'https':
      return {
        type: c.type,
        port: int(p, join(path, 'port'), c.port, 1, 65535, c.type === 'http' ? 80 : 443) ?? 80,
        path: str(p, join(path, 'path'), c.path ?? '/', { pattern: /^\//, what: 'a path starting with /' }) ?? '/',
        method:
          str(p, join(path, 'method'), c.method ?? 'GET', { pattern: /^[A-Z]+$/, what: 'an HTTP method' }) ?? 'GET',
        expectStatus: int(p, join(path, 'expect_status'), c.expect_status, 100, 599, 200) ?? 200,
        body: str(p, join(path, 'body'), c.body, { optional: true }),
        host: str(p, join(path, 'host'), c.host, { optional: true }),
        timeoutMs,
      };
    case 'tcp':
      return { type: 'tcp', port: int(p, join(path, 'port'), c.port, 1, 65535) ?? 0, timeoutMs };
    case 'dns':
      return {
        type: 'dns',
        port: int(p, join(path, 'port'), c.port, 1, 65535, 53) ?? 53,
        name: str(p, join(path, 'name'), c.name) ?? '',
        qtype: str(p, join(path, 'qtype'), c.qtype ?? 'A') ?? 'A',
        timeoutMs,
      };
    case 'exec': {
      const cmd = list(p, join(path, 'command'), c.command, { nonEmpty: true }) ?? [];
      if (!cmd.every((x) => typeof x === 'string'))
        p.add(join(path, 'command'), 'must be a list of strings (no shell)');
      return { type: 'exec', command: cmd as string[], timeoutMs };
    }
    default:
      p.add(join(path, 'type'), 'must be http, https, tcp, dns or exec');
      return undefined;
  }
}
