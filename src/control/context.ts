// What the control API's route modules share: the config, the shared store and this process's
// watched view of it, the audit log, operator changes, and the request guard.
import type { Config, ControlSettings } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import type { InMemoryRegionState, RegionFeed, StateStore } from '../state/index.js';
import { isLive, type RegionView } from '../contract/index.js';
import type { AuditLog } from './audit.js';
import type { Changes } from './changes.js';
import type { Guard } from './http.js';

export interface ControlContext {
  config: Config;
  control: ControlSettings;
  store: StateStore;
  state: InMemoryRegionState;
  feed: RegionFeed;
  audit: AuditLog;
  changes: Changes;
  guard: Guard;
  log: Logger;
  now(): number;
}

/**
 * Every region as DNS sees it, answered from the watched state (not a store read per request:
 * with a thousand agents writing, a read from etcd made the API's p99 ~300 ms).
 */
export function regionViews(ctx: ControlContext) {
  return [...ctx.config.regions.keys()].map((name) => {
    const v = ctx.state.get(name) as RegionView;
    const o = ctx.feed.overrideOf(name);
    const w = ctx.feed.weightOf(name);
    return {
      name,
      status: v.status,
      weight: v.weight ?? null,
      reason: v.reason ?? '',
      // Which signal decided, and whether the guard rail keeps it in DNS against its health.
      source: v.source ?? null,
      held: v.held === true,
      // No evidence yet: no agent of it has ever reported (its status is control.unknown's).
      unknown: v.unknown === true,
      // Up, but out for one address family alone (regions.X.min_children), with why.
      familyOut: v.familyOut ?? null,
      // Names that skip it although it is up: their pool's own health (services.X.pools[].health).
      poolsOut: v.poolsOut ?? null,
      since: new Date(v.since).toISOString(),
      override: isLive(o, ctx.now()) ? o : null,
      weightOverride: isLive(w, ctx.now()) ? w : null,
    };
  });
}
