// Steering, the decision an answer carries: the regions answered (the policy's order, filtered
// by health, failing open) and the TTL they get, together, as gdnsd's resolver plugins return
// state and TTL through one pure combine. The TTL follows the routing state: while a region in
// the answer is draining, held in by the guard rail or changed state recently, resolvers should
// come back soon. Pure: the caller gives the regions' views and the time.
import type { RegionStatus, RegionView } from '../contract/index.js';
import { select, type Selection } from './select.js';
import type { Ordering, SteeredService } from './types.js';

export interface TtlRule {
  /** The service's own TTL. */
  ttl: number;
  /** The short TTL while a region in the answer is unstable (dns.unstable_ttl). */
  unstableTtl: number;
  /** How long after a state change a region counts as unstable (dns.unstable_window_s); 0 = never. */
  unstableWindowS: number;
}

export interface Steering {
  selection: Selection;
  /** The TTL the answer gets: the service's, or the short one while a region in it is unstable. */
  ttl: number;
  /** Until when that TTL holds without a state change (Infinity: until one). */
  ttlUntil: number;
  /** Why the TTL was shortened (explain), if it was. */
  ttlReason?: string;
}

/** The regions and TTL of one answer. */
export function steer(
  service: SteeredService,
  ordering: Ordering,
  family: 4 | 6,
  view: (region: string) => RegionView | undefined,
  statusOf: (region: string) => RegionStatus,
  rule: TtlRule,
  now: number,
): Steering {
  const selection = select(service, ordering.candidates, family, statusOf, ordering.complete);
  return { selection, ...ttlFor(selection, view, rule, now) };
}

/** The TTL of an answer holding `selection`'s regions. */
export function ttlFor(
  selection: Selection,
  view: (region: string) => RegionView | undefined,
  rule: TtlRule,
  now: number,
): Omit<Steering, 'selection'> {
  const { ttl, unstableTtl, unstableWindowS } = rule;
  if (unstableWindowS === 0 || unstableTtl >= ttl) return { ttl, ttlUntil: Infinity };
  let until = Infinity;
  let reason: string | undefined;
  for (const p of selection.pools) {
    const v = view(p.region);
    if (!v) continue;
    if (v.held || v.status === 'draining')
      return {
        ttl: unstableTtl,
        ttlUntil: Infinity,
        ttlReason: `${p.region} is ${v.held ? 'held in by the guard rail' : 'draining'}`,
      };
    const end = (v.flappedAt ?? -Infinity) + unstableWindowS * 1000;
    if (end > now && end < until) {
      until = end;
      reason = `${p.region} changed state ${Math.round((now - (v.flappedAt as number)) / 1000)} s ago`;
    }
  }
  return until === Infinity ? { ttl, ttlUntil: Infinity } : { ttl: unstableTtl, ttlUntil: until, ttlReason: reason };
}
