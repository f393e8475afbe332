// Fencing by network and origin AS: rules on a service that pin a client to some regions or keep
// it out of others ("AS 64500's users always go to eu-west", "this /16 never to ap-southeast"),
// whatever the policy would say. The first rule that matches applies. A pinned client's answer
// never leaves its pinned regions (when they are all down it fails open among them, or to the
// service's last resort); an excluded region is never answered to a client the rule matches,
// not even failing open. Pure: the client's AS comes with the client (the DNS looks it up).
import { parseCidr, prefixMatch, type Prefix } from '../net/index.js';
import { join, list, obj, type Problems } from '../validate/index.js';
import { regionList } from './common.js';
import { allCandidates, type Client, type Ordering } from './types.js';

export interface FenceRule {
  /** 1-based, as explain names it. */
  index: number;
  networks: Prefix[];
  asns: Set<number>;
  /** Only these regions, in the policy's order. */
  pin?: string[];
  /** Never these regions. */
  exclude?: string[];
}

export interface FenceMatch {
  rule?: FenceRule;
  /** Bits of the client address the match depends on (the answer's ECS scope at least). */
  scope: number;
}

/** `fence: [{ networks?, asn?, pin | exclude }, ...]` of a service. */
export function parseFence(p: Problems, path: string, v: unknown, pools: string[]): FenceRule[] {
  const out: FenceRule[] = [];
  for (const [i, rv] of (list(p, path, v, { optional: true }) ?? []).entries()) {
    const rp = join(path, i);
    const r = obj(p, rp, rv, ['networks', 'asn', 'pin', 'exclude']);
    if (!r) continue;
    const networks = (list(p, join(rp, 'networks'), r.networks, { optional: true }) ?? []).flatMap((n, j) => {
      const net = typeof n === 'string' ? parseCidr(n) : undefined;
      if (!net) p.add(join(join(rp, 'networks'), j), 'must be a network such as 198.51.100.0/24 or 2001:db8::/32');
      return net ? [net] : [];
    });
    const asns = (list(p, join(rp, 'asn'), r.asn, { optional: true }) ?? []).flatMap((a, j) => {
      const n = typeof a === 'string' ? Number(a.replace(/^AS/i, '')) : a;
      const ok = typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
      if (!ok) p.add(join(join(rp, 'asn'), j), 'must be an AS number such as 64500 or "AS64500"');
      return ok ? [n as number] : [];
    });
    if (r.networks === undefined && r.asn === undefined) p.add(rp, 'needs networks or asn (what clients it matches)');
    if ((r.pin === undefined) === (r.exclude === undefined)) p.add(rp, 'needs exactly one of pin or exclude');
    const pin = r.pin === undefined ? undefined : regionList(p, join(rp, 'pin'), r.pin, pools);
    const exclude = r.exclude === undefined ? undefined : regionList(p, join(rp, 'exclude'), r.exclude, pools);
    if (exclude && pools.every((x) => exclude.includes(x))) p.add(join(rp, 'exclude'), 'excludes every pool region');
    out.push({ index: i + 1, networks, asns: new Set(asns), pin, exclude });
  }
  return out;
}

/** Whether any rule reads the client's AS (then the DNS needs the AS data). */
export function fenceUsesAsn(rules: readonly FenceRule[]): boolean {
  return rules.some((r) => r.asns.size > 0);
}

/** Leading bits two addresses share, up to `max`. */
function commonBits(a: Uint8Array, b: Uint8Array, max: number): number {
  let n = 0;
  for (let i = 0; i < a.length && n < max; i++) {
    const x = (a[i] as number) ^ (b[i] as number);
    if (x === 0) n += 8;
    else return Math.min(max, n + Math.clz32(x) - 24);
  }
  return Math.min(n, max);
}

/**
 * The first rule matching the client, and how many bits of its address that depends on: the
 * answer holds for every address in the client's /scope block only when that block lies wholly
 * inside or wholly outside each rule's networks, and (with AS rules) inside one AS's range.
 */
export function matchFence(rules: readonly FenceRule[], client: Client | undefined): FenceMatch {
  if (!client || rules.length === 0) return { scope: 0 };
  let rule: FenceRule | undefined;
  let scope = 0;
  let asRules = false;
  for (const r of rules) {
    let hit = client.asn !== undefined && r.asns.has(client.asn);
    if (r.asns.size) asRules = true;
    for (const n of r.networks) {
      if (n.family !== client.family) continue;
      const inside = prefixMatch(client.address, n.bytes, n.prefix);
      // Inside: the block must not reach past the network; outside: it must not reach into it.
      scope = Math.max(scope, inside ? n.prefix : commonBits(client.address, n.bytes, n.prefix) + 1);
      hit ||= inside;
    }
    if (hit && !rule) rule = r;
  }
  if (asRules) scope = Math.max(scope, client.asnPrefix ?? client.address.length * 8);
  return { rule, scope };
}

/** The same ordering with a wider scope (read through: the ordering may be a shared one). */
function widened(o: Ordering, scope: number): Ordering {
  return {
    get candidates() {
      return o.candidates;
    },
    get complete() {
      return o.complete;
    },
    get rule() {
      return o.rule;
    },
    scope,
  };
}

/** The ordering a matched rule leaves (the policy's order within it); the scope at least the match's. */
export function applyFence(o: Ordering, m: FenceMatch): Ordering {
  const rule = m.rule;
  const scope = Math.max(o.scope, m.scope);
  if (!rule) return scope === o.scope ? o : widened(o, scope);
  const all = allCandidates(o);
  let candidates: string[];
  if (rule.pin) {
    const pin = rule.pin;
    // Pinned regions the policy did not order (a weighted `regions:` subset) follow, as listed.
    candidates = [...all.filter((r) => pin.includes(r)), ...pin.filter((r) => !all.includes(r))];
  } else candidates = all.filter((r) => !rule.exclude?.includes(r));
  const what = rule.pin ? `pinned to ${rule.pin.join(', ')}` : `excluding ${rule.exclude?.join(', ')}`;
  return {
    candidates,
    scope,
    get rule() {
      return `${o.rule}; fence rule ${rule.index}: ${what}`;
    },
  };
}
