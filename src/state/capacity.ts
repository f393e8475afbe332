// Capacity: how much of a region's answers DNS sheds to the next region as its LB clusters'
// reported load passes a threshold. Pure. The share moves at a bounded rate, up while the load is
// above `shedAbove` and down while it is below `releaseBelow`, held in between: shedding lowers
// the load it reacts to, so a share set straight from the load would swing; moving it slowly
// inside a dead band settles where the load sits between the two thresholds (hysteresis).
import type { AgentReport, RegionView } from '../contract/index.js';
import type { CapacityRule } from '../config/index.js';

export type { CapacityRule };

/** A region's load: the mean utilisation its reporting PoPs give; undefined when none reports one. */
export function regionLoad(reports: readonly AgentReport[]): number | undefined {
  const loads = reports.map((r) => r.load).filter((l): l is number => typeof l === 'number' && Number.isFinite(l));
  return loads.length ? loads.reduce((a, b) => a + b, 0) / loads.length : undefined;
}

/**
 * The shed share after `prev`, given the load now. No load reported: the share decays as if the
 * load were low (a region whose agents stop reporting load is not kept shed on old news).
 */
export function nextShed(
  prev: Pick<RegionView, 'shed' | 'shedAt'> | undefined,
  load: number | undefined,
  rule: CapacityRule,
  now: number,
): { shed: number; shedAt: number } | undefined {
  const was = prev?.shed ?? 0;
  const dtS = prev?.shedAt === undefined ? 0 : Math.max(0, now - prev.shedAt) / 1000;
  // At most 2 s' worth per merge (merges follow heartbeats, about one a second): the time since
  // a share last changed may include a hold in the band, which must not count as movement.
  const step = Math.min(2, dtS) * rule.ratePerS;
  let shed = was;
  if (load !== undefined && load > rule.shedAbove)
    shed = Math.min(rule.maxShed, was + (was === 0 ? rule.ratePerS : step));
  else if (load === undefined || load < rule.releaseBelow) shed = Math.max(0, was - step);
  shed = Math.round(shed * 1000) / 1000;
  return shed > 0 || was > 0 ? { shed, shedAt: now } : undefined;
}
