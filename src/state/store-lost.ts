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
    const { held: _held, damping: _damping, ...rest } = v;
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
