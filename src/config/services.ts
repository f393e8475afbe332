// services: steered names, their pools, policy (src/policy) and fail-open regions.
import {
  TRANSFER_RENDITIONS,
  type CalculatedHealth,
  type Policy,
  type Pool,
  type Region,
  type Service,
  type TransferRendition,
  type Zone,
} from './types.js';
import { parseFence, parsePolicy } from '../policy/index.js';
import { regionRef } from '../policy/common.js';
import { Problems, bool, int, ipv4, ipv6, join, list, num, obj } from '../validate/index.js';
import { TTL_MAX, domain, inZone } from './names.js';
import { cutAbove, delegationsOf } from './zones.js';
import { readSvcb, svcbFields, type SvcbParts } from './svcb.js';
import { parseHealth } from './health.js';

export function parseServices(
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
    const s = obj(p, path, sv, [
      'name',
      'ttl',
      'answers',
      'pools',
      'policy',
      'last_resort',
      'ecs',
      'transfer_as',
      'https',
      'fence',
    ]);
    if (!s) continue;
    const name = domain(p, join(path, 'name'), s.name, '');
    let zoneName = '';
    if (name) {
      // The most specific zone answers (a child zone served here too, below its parent's cut).
      const zone = zones.filter((z) => inZone(name, z.name)).sort((a, b) => b.name.length - a.name.length)[0];
      zoneName = zone?.name ?? '';
      if (!zone) p.add(join(path, 'name'), `${name} is not inside any configured zone`);
      else if (zone.records.some((r) => r.name === name && r.type === 'CNAME'))
        p.add(join(path, 'name'), `${name} is also a CNAME`);
      else {
        const cut = cutAbove(delegationsOf(zone), name, zone.name);
        if (cut) p.add(join(path, 'name'), `${name} is inside the delegation at ${cut}: a child zone answers for it`);
      }
      if (names.has(name)) p.add(join(path, 'name'), `${name} is steered by two services`);
      names.add(name);
    }
    const poolHealth = new Map<string, CalculatedHealth>();
    const pools = parsePools(p, join(path, 'pools'), s.pools, regions, poolHealth);
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
      transferAs: transferAsOf(p, join(path, 'transfer_as'), s.transfer_as, lastResort.length > 0),
      ...(s.https === undefined ? {} : httpsOf(p, join(path, 'https'), s.https, zoneName)),
      fence: parseFence(p, join(path, 'fence'), s.fence, poolRegions),
      ...(poolHealth.size ? { poolHealth } : {}),
    });
  }
  return out;
}

/** The pools; a pool's `health` (an expression, as a region's) goes to `health` by region. */
function parsePools(
  p: Problems,
  path: string,
  v: unknown,
  regions: Map<string, Region>,
  health: Map<string, CalculatedHealth>,
): Pool[] {
  const out: Pool[] = [];
  const items = list(p, path, v, { nonEmpty: true }) ?? [];
  for (const [i, pv] of items.entries()) {
    const pp = join(path, i);
    // Shorthand: a bare region name uses the region's VIPs.
    const po =
      typeof pv === 'string' ? { region: pv } : obj(p, pp, pv, ['region', 'vip', 'vip6', 'cname', 'weight', 'health']);
    if (!po) continue;
    const region = typeof po.region === 'string' ? regions.get(po.region) : undefined;
    if (!region) {
      p.add(join(pp, 'region'), `unknown region ${JSON.stringify(po.region)}`);
      continue;
    }
    // An alias pool answers a CNAME to another provider's name, never addresses.
    const cname = po.cname === undefined ? undefined : domain(p, join(pp, 'cname'), po.cname, '');
    if (po.cname !== undefined && (po.vip !== undefined || po.vip6 !== undefined))
      p.add(pp, 'a pool answers addresses (vip, vip6) or an alias (cname), not both');
    const vip4 = cname ? undefined : po.vip === undefined ? region.vip4 : ipv4(p, join(pp, 'vip'), po.vip);
    const vip6 = cname ? undefined : po.vip6 === undefined ? region.vip6 : ipv6(p, join(pp, 'vip6'), po.vip6);
    if (!vip4 && !vip6 && !cname && po.vip === undefined && po.vip6 === undefined && po.cname === undefined)
      p.add(pp, `region ${region.name} has no VIP and the pool sets none (nor a cname)`);
    if (out.some((x) => x.region === region.name)) p.add(join(pp, 'region'), `region ${region.name} listed twice`);
    const rule = po.health === undefined ? undefined : parseHealth(p, join(pp, 'health'), po.health);
    if (rule) health.set(region.name, rule);
    out.push({
      region: region.name,
      vip4,
      vip6,
      ...(cname ? { cname } : {}),
      weight: num(p, join(pp, 'weight'), po.weight, 0, 1_000_000, region.weight) ?? 1,
    });
  }
  return out;
}

/**
 * `https: "1 . alpn=h3,h2"`: the HTTPS record (RFC 9460 form) the steered name answers, without
 * address hints (each answer's are the addresses the policy gives that client). The target is
 * `.` (the name itself) or a name, absolute or relative to the service's name's zone.
 */
function httpsOf(p: Problems, path: string, v: unknown, zone: string): { https: SvcbParts } | undefined {
  const fields = typeof v === 'string' ? svcbFields(v) : [];
  if (fields.length < 2) {
    p.add(path, "must be an HTTPS record's value without hints: PRIORITY TARGET key=value ... (1 . alpn=h3,h2)");
    return undefined;
  }
  if (fields.some((f) => /^ipv[46]hint=/i.test(f))) {
    p.add(path, 'ipv4hint and ipv6hint are the steered addresses: leave them out');
    return undefined;
  }
  if (fields[0] === '0') {
    p.add(path, 'an alias (priority 0) cannot carry the steered addresses: use a priority of 1 or more');
    return undefined;
  }
  const https = readSvcb(p, path, fields, zone);
  return https && { https };
}

/** `transfer_as: pools | last_resort | healthy` (what a secondary serves for the name). */
function transferAsOf(p: Problems, path: string, v: unknown, hasLastResort: boolean): TransferRendition {
  if (v === undefined) return 'pools';
  if (!(TRANSFER_RENDITIONS as readonly unknown[]).includes(v)) {
    p.add(path, `must be one of ${TRANSFER_RENDITIONS.join(', ')}`);
    return 'pools';
  }
  if (v === 'last_resort' && !hasLastResort) p.add(path, 'last_resort needs the service to name last_resort regions');
  return v as TransferRendition;
}
