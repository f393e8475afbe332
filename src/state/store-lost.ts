// A DNS node cut off from the shared store (a partition, etcd down or frozen): it serves the last
// view it read for `max_stale_s` after the store's last answer, then applies the configured
// fallback until the store answers again. Pure: the caller gives the times.
import type { StoreLostRule } from '../config/index.js';
import type { RegionStatus, RegionView, StoreLost } from '../contract/index.js';

export type { StoreLostRule };

/** Whether the fallback applies at `now`, the store having last answered at `lastContact`. */
export function storeLostAt(lastContact: number, now: number, rule: StoreLostRule): StoreLost | undefined {
  if (rule.then === 'keep' || now - lastContact <= rule.maxStaleS * 1000) return undefined;
  return { since: lastContact, fallback: rule.then };
}

/**
 * The views DNS hands out while the store is lost: with `configured`, every region at its
 * configured status (operators' overrides and health are in the lost store); with `servfail`,
 * the last views, marked, so steered names get SERVFAIL. Not lost: the views as they are.
 */
export function applyStoreLost(
  views: Map<string, RegionView>,
  configured: Map<string, RegionStatus>,
  lost: StoreLost | undefined,
): Map<string, RegionView> {
  if (!lost) return views;
  const out = new Map<string, RegionView>();
  for (const [region, v] of views) {
    if (lost.fallback === 'servfail') {
      out.set(region, { ...v, storeLost: lost });
      continue;
    }
    const status = configured.get(region) ?? v.status;
    const { held: _held, damping: _damping, familyOut: _familyOut, poolsOut: _poolsOut, ...rest } = v;
    out.set(region, { ...rest, status, source: 'config', reason: storeLostText(lost), storeLost: lost });
  }
  return out;
}

/** One line for people: since when the store is silent and what DNS does meanwhile. */
export function storeLostText(lost: StoreLost, now = Date.now()): string {
  const silent = Math.round((now - lost.since) / 1000);
  return lost.fallback === 'configured'
    ? `shared store silent for ${silent} s: every region at its configured status`
    : `shared store silent for ${silent} s: steered names answer SERVFAIL (resolvers ask another server)`;
}

/** A report the store dropped while it could not be reached, kept until `until`. */
export interface Carried<R> {
  report: R;
  until: number;
}

/**
 * A store that was silent (etcd frozen, cut off) drops the leases that ran out meanwhile the
 * moment it answers again, before any agent could renew: the report vanishes although its
 * agent may be fine, and every region would go down at once. Vanishing then is no evidence, so
 * for one lease a PoP whose report went away during a silence, or within a lease of its end,
 * keeps its last report; a report renewed meanwhile ends the carry, and a real death shows one
 * lease later. Returns the reports carried from now on.
 */
export function carryOver<R>(
  before: Map<string, R>,
  after: Map<string, R>,
  carried: Map<string, Carried<R>>,
  o: { now: number; leaseMs: number; silentMs: number; backAt?: number },
): Map<string, Carried<R>> {
  const out = new Map<string, Carried<R>>();
  for (const [pop, c] of carried) if (!after.has(pop) && c.until > o.now) out.set(pop, c);
  const silent = o.silentMs > SILENCE_MS || (o.backAt !== undefined && o.now - o.backAt <= o.leaseMs);
  if (!silent) return out;
  for (const [pop, report] of before)
    if (!after.has(pop) && !out.has(pop)) out.set(pop, { report, until: o.now + o.leaseMs });
  return out;
}

/**
 * The store has been silent when a read a second (the contact check) has gone unanswered this
 * long: one and a half reads, so a late timer on a busy process is not taken for a silence.
 */
export const SILENCE_MS = 1500;

/** The reports to merge: the store's, and those carried over a silence while they last. */
export function withCarried<R>(reports: Map<string, R>, carried: Map<string, Carried<R>>, now: number): Map<string, R> {
  if (carried.size === 0) return reports;
  const out = new Map(reports);
  for (const [pop, c] of carried) if (!out.has(pop) && c.until > now) out.set(pop, c.report);
  return out;
}
