// `regions.X.health` (calculated health) and `control.signals` (pushed signals): the expression's
// YAML shape, and the checks that need the whole config (every name exists, no region depends on
// itself through others).
import { Problems, int, join, list, obj } from '../validate/index.js';
import { FAMILY_NAME, vipFamily } from '../contract/index.js';
import type { CalculatedHealth, HealthExpr, Pop, Region, Service, SignalSettings } from './types.js';

/** As region names (and the API's name parameter). */
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MAX_DEPTH = 8;

/**
 * One term: `agents`, `{ signal: NAME }`, `{ region: NAME }`, `{ all: [...] }`, `{ any: [...] }`,
 * `{ not: TERM }`, `{ at_least: N, of: [...] }`.
 */
function parseExpr(p: Problems, path: string, v: unknown, depth = 0): HealthExpr | undefined {
  if (depth > MAX_DEPTH) return void p.add(path, `nested deeper than ${MAX_DEPTH} levels`);
  if (v === 'agents') return { kind: 'agents' };
  if (typeof v === 'string')
    return void p.add(path, 'a term is agents, or a mapping (signal, region, all, any, not, at_least)');
  const o = obj(p, path, v, ['signal', 'region', 'all', 'any', 'not', 'at_least', 'of']);
  if (!o) return undefined;
  const keys = Object.keys(o).filter((k) => k !== 'of');
  if (keys.length !== 1 || (o.of !== undefined && keys[0] !== 'at_least'))
    return void p.add(path, 'one of signal, region, all, any, not, or at_least with of');
  const key = keys[0] as string;
  const terms = (k: string, items: unknown) =>
    (list(p, join(path, k), items, { nonEmpty: true }) ?? []).flatMap(
      (x, i) => parseExpr(p, join(join(path, k), i), x, depth + 1) ?? [],
    );
  switch (key) {
    case 'signal':
    case 'region': {
      const name = o[key];
      if (typeof name !== 'string' || !NAME.test(name)) return void p.add(join(path, key), 'a name');
      return { kind: key, name };
    }
    case 'all':
    case 'any':
      return { kind: key, of: terms(key, o[key]) };
    case 'not': {
      const of = parseExpr(p, join(path, 'not'), o.not, depth + 1);
      return of && { kind: 'not', of };
    }
    default: {
      const of = terms('of', o.of);
      const n = int(p, join(path, 'at_least'), o.at_least, 1, 1000);
      if (n !== undefined && of.length && n > of.length)
        p.add(join(path, 'at_least'), `more than the ${of.length} terms in of`);
      return n === undefined ? undefined : { kind: 'at_least', n, of };
    }
  }
}

/** What an unknown counts as (`control.unknown`, `regions.X.health.unknown`): up (fail open) unless `down`. */
export function unknownAs(p: Problems, path: string, v: unknown): 'up' | 'down' {
  if (v !== undefined && v !== 'up' && v !== 'down') p.add(path, 'must be up or down');
  return v === 'down' ? 'down' : 'up';
}

/** `regions.X.health`: one term, and optionally `unknown: up | down` (default up: fail open). */
export function parseHealth(p: Problems, path: string, v: unknown): CalculatedHealth | undefined {
  let unknown: 'up' | 'down' = 'up';
  let term = v;
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && 'unknown' in v) {
    const { unknown: u, ...rest } = v as Record<string, unknown>;
    unknown = unknownAs(p, join(path, 'unknown'), u);
    term = rest;
  }
  const expr = parseExpr(p, path, term);
  return expr && { expr, unknown };
}

/** `control.signals`: each signal's name and `lease_s` (default 300). */
export function parseSignals(p: Problems, v: unknown): Map<string, SignalSettings> {
  const out = new Map<string, SignalSettings>();
  const o = v === undefined ? {} : obj(p, 'control.signals', v);
  for (const [name, sv] of Object.entries(o ?? {})) {
    const path = join('control.signals', name);
    if (!NAME.test(name)) p.add(path, 'signal names use lower-case letters, digits and dashes');
    const s = (sv === null ? {} : obj(p, path, sv, ['lease_s'])) ?? {};
    out.set(name, { leaseS: int(p, join(path, 'lease_s'), s.lease_s, 1, 30 * 86_400, 300) ?? 300 });
  }
  return out;
}

/** Every name a term reads. */
function* namesIn(e: HealthExpr): Generator<{ kind: 'signal' | 'region'; name: string }> {
  if (e.kind === 'signal' || e.kind === 'region') yield { kind: e.kind, name: e.name };
  else if (e.kind === 'not') yield* namesIn(e.of);
  else if (e.kind !== 'agents') for (const t of e.of) yield* namesIn(t);
}

/**
 * Every signal and region a region's or a pool's health reads exists, and no region depends on
 * itself (a pool's health reads regions, and no region reads a pool: pools make no circle).
 */
export function checkHealthRefs(
  p: Problems,
  regions: Map<string, Region>,
  signals: Map<string, SignalSettings>,
  services: readonly Service[] = [],
): void {
  /** The regions the expression reads; unknown names are problems at `path`. */
  const check = (path: string, expr: HealthExpr): string[] => {
    const reads: string[] = [];
    for (const ref of namesIn(expr)) {
      if (ref.kind === 'signal' && !signals.has(ref.name)) p.add(path, `no signal ${ref.name} in control.signals`);
      if (ref.kind === 'region' && !regions.has(ref.name)) p.add(path, `no region ${ref.name}`);
      if (ref.kind === 'region') reads.push(ref.name);
    }
    return reads;
  };
  const deps = new Map<string, string[]>();
  for (const r of regions.values())
    if (r.health) deps.set(r.name, check(join(join('regions', r.name), 'health'), r.health.expr));
  for (const s of services)
    for (const [region, rule] of s.poolHealth ?? []) {
      const i = s.pools.findIndex((x) => x.region === region);
      check(join(join(join(join('services', s.key), 'pools'), i), 'health'), rule.expr);
    }
  const cycle = findCycle(deps);
  if (cycle) p.add('regions', `calculated health goes round in a circle: ${cycle.join(' -> ')}`);
}

/** A path that comes back to where it began, if the dependencies hold one. */
function findCycle(deps: Map<string, string[]>): string[] | undefined {
  const done = new Set<string>();
  const visit = (r: string, path: string[]): string[] | undefined => {
    const at = path.indexOf(r);
    if (at >= 0) return [...path.slice(at), r];
    if (done.has(r)) return undefined;
    for (const d of deps.get(r) ?? []) {
      const c = visit(d, [...path, r]);
      if (c) return c;
    }
    done.add(r);
    return undefined;
  };
  for (const r of deps.keys()) {
    const c = visit(r, []);
    if (c) return c;
  }
  return undefined;
}

/**
 * Every `min_children` can be met: the region has at least that many PoPs with a VIP of the
 * family in their config (a rule no deployment can meet would keep the family out for good).
 */
export function checkMinChildren(p: Problems, regions: Map<string, Region>, pops: readonly Pop[]): void {
  for (const r of regions.values()) {
    if (!r.minChildren) continue;
    const mine = pops.filter((x) => x.region === r.name);
    for (const family of ['ipv4', 'ipv6'] as const) {
      const need = r.minChildren[family];
      const have = mine.filter((x) => x.vips.some((v) => vipFamily(v.prefix) === family)).length;
      if (need > have)
        p.add(
          join(join(join('regions', r.name), 'min_children'), family),
          `${need} PoPs can never serve: ${have} of ${r.name}'s PoPs have an ${FAMILY_NAME[family]} VIP`,
        );
    }
  }
}
