// The paths the agent announces, independent of GoBGP's API shapes, plus the pure
// reconciliation of desired against announced. No sockets here.
import { isIPv4, isIPv6 } from '../net/index.js';

export type Origin = 'igp' | 'egp' | 'incomplete';

export interface AnnouncedPath {
  /** "198.51.100.10/32" or "2001:db8:10::10/128". */
  prefix: string;
  nextHop: string;
  origin: Origin;
  med?: number;
  /** "65535:0" form. */
  communities: string[];
  /** "65000:1:2" form. */
  largeCommunities: string[];
  /** Extra copies of our AS prepended (0 = none). */
  prepend: number;
}

export function familyOf(prefix: string): 4 | 6 {
  return prefix.includes(':') ? 6 : 4;
}

/**
 * Refuses anything that could announce the wrong route. GoBGP accepts a path whose prefix
 * length was lost and announces 0.0.0.0/0 (measured: a path decoded with the wrong field case, `prefixLen` for `prefix_len`, loses the length): never let that through.
 */
export function validatePath(p: AnnouncedPath): string[] {
  const problems: string[] = [];
  const m = /^([^/]+)\/(\d{1,3})$/.exec(p.prefix);
  const addr = m?.[1] ?? '';
  const len = Number(m?.[2]);
  if (!m) problems.push(`prefix ${p.prefix}: not ADDRESS/LENGTH`);
  else if (isIPv4(addr) ? len !== 32 : isIPv6(addr) ? len !== 128 : true)
    problems.push(`prefix ${p.prefix}: a VIP must be a /32 or /128 host route`);
  const fam = familyOf(p.prefix);
  if (fam === 4 ? !isIPv4(p.nextHop) : !isIPv6(p.nextHop))
    problems.push(`next hop ${p.nextHop}: must be an IPv${fam} address for ${p.prefix}`);
  if (fam === 6 && (p.nextHop === '::' || p.nextHop.startsWith('::ffff:')))
    problems.push(`next hop ${p.nextHop}: give an explicit IPv6 next hop`);
  for (const c of p.communities)
    if (!/^\d{1,5}:\d{1,5}$/.test(c) || c.split(':').some((x) => Number(x) > 65535))
      problems.push(`community ${c}: expected ASN:VALUE (16-bit each)`);
  for (const c of p.largeCommunities)
    if (!/^\d{1,10}:\d{1,10}:\d{1,10}$/.test(c) || c.split(':').some((x) => Number(x) > 0xffffffff))
      problems.push(`large community ${c}: expected A:B:C (32-bit each)`);
  if (p.med !== undefined && (!Number.isInteger(p.med) || p.med < 0 || p.med > 0xffffffff))
    problems.push(`med ${p.med}: must be 0-4294967295`);
  if (!Number.isInteger(p.prepend) || p.prepend < 0 || p.prepend > 10)
    problems.push(`prepend ${p.prepend}: must be 0-10`);
  return problems;
}

/** Attribute identity, order-insensitive where BGP is (communities are sets). */
export function pathSignature(p: AnnouncedPath): string {
  return JSON.stringify([
    p.prefix,
    p.nextHop,
    p.origin,
    p.med ?? null,
    [...p.communities].sort(),
    [...p.largeCommunities].sort(),
    p.prepend,
  ]);
}

export interface ReconcilePlan {
  add: AnnouncedPath[];
  remove: AnnouncedPath[];
}

/**
 * What to change so that exactly `desired` is announced. `announced` is what ListPath
 * shows for our own (local) paths. A prefix with a wrong attribute is re-added (AddPath on
 * the same prefix replaces it); duplicates of a prefix are all removed and one re-added;
 * prefixes we do not want are removed one by one, never with an empty DeletePath.
 * Apply removals before additions.
 */
export function reconcile(desired: AnnouncedPath[], announced: AnnouncedPath[]): ReconcilePlan {
  const plan: ReconcilePlan = { add: [], remove: [] };
  const want = new Map(desired.map((p) => [p.prefix, p]));
  const have = new Map<string, AnnouncedPath[]>();
  for (const p of announced) have.set(p.prefix, [...(have.get(p.prefix) ?? []), p]);
  for (const [prefix, paths] of have) {
    const target = want.get(prefix);
    if (!target) {
      plan.remove.push(...paths);
      continue;
    }
    if (paths.length === 1) {
      // A wrong attribute: AddPath on the same prefix replaces it with no withdraw gap.
      if (pathSignature(paths[0] as AnnouncedPath) !== pathSignature(target)) plan.add.push(target);
      continue;
    }
    // Duplicates (should not happen, but must not persist): remove every copy, add one.
    plan.remove.push(...paths);
    plan.add.push(target);
  }
  for (const [prefix, p] of want) if (!have.has(prefix)) plan.add.push(p);
  return plan;
}
