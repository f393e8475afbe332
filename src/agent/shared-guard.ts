// Pure: may this PoP withdraw a shared anycast VIP on health grounds? The worst anycast outages
// came from every PoP withdrawing the same prefix at once on one shared false signal. So a
// withdrawal must leave at least `minAnnouncing` other PoPs announcing it normally, and must not
// take more than `maxWithdrawnShare` of its PoPs out at once (counting those that withdrew within
// the claim window). Maintenance and operator drains never ask: they are not held.
import type { AnycastVip } from '../config/types.js';
import type { AgentReport } from '../contract/index.js';

export interface GuardInput {
  vip: AnycastVip;
  prefix: string;
  me: string;
  /** Every PoP configured to announce this VIP. */
  pops: string[];
  /** Other agents' live heartbeats, by PoP. */
  reports: Map<string, AgentReport>;
  /** PoPs that claimed a withdrawal within the window (other than me). */
  claims: string[];
}

export interface GuardDecision {
  allow: boolean;
  /** For people (logs, status); decisions read `allow`. */
  reason: string;
  /** Other PoPs announcing it normally (their VIP UP), per their reports. */
  announcing: string[];
}

export function guardDecision(i: GuardInput): GuardDecision {
  const others = i.pops.filter((p) => p !== i.me);
  const announcing = others.filter((p) =>
    i.reports.get(p)?.vips.some((v) => v.prefix === i.prefix && v.state === 'UP' && !v.held),
  );
  // Out: everyone else not announcing it normally (down, held, silent), or who claimed a withdrawal.
  const out = new Set([...others.filter((p) => !announcing.includes(p)), ...i.claims.filter((p) => p !== i.me)]);
  const share = (out.size + 1) / i.pops.length;
  if (announcing.length < i.vip.minAnnouncing)
    return {
      allow: false,
      announcing,
      reason: `only ${announcing.length} other PoP(s) announce ${i.vip.name} (${announcing.join(', ') || 'none'}); min_announcing is ${i.vip.minAnnouncing}`,
    };
  if (share > i.vip.maxWithdrawnShare)
    return {
      allow: false,
      announcing,
      reason: `${out.size + 1} of ${i.pops.length} PoPs would be out (${[...out, i.me].join(', ')}); max_withdrawn_share is ${i.vip.maxWithdrawnShare}`,
    };
  return {
    allow: true,
    announcing,
    reason: `${announcing.length} other PoP(s) still announce ${i.vip.name} (${announcing.join(', ')})`,
  };
}
