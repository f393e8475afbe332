// Pure: agents' heartbeats + operators' overrides -> the region state DNS hands out,
// with the guard rail that never lets a shared false signal take too many regions dark.
import {
  isLive,
  type AgentReport,
  type HealthSignal,
  type RegionOverride,
  type RegionWeightOverride,
  type RegionSource,
  type RegionStatus,
  type RegionView,
  type VantageReport,
  type VantageView,
  type VipState,
  vipFamily,
  FAMILY_NAME,
} from '../contract/index.js';

import { nextShed, regionLoad, type CapacityRule } from './capacity.js';
import { damp, type FlapDamping } from './damping.js';
import { calculatedStatus, ruleHolds } from './calculated.js';
import type { CalculatedHealth, MinChildren } from '../config/index.js';

export type { AgentReport, RegionOverride };

/** VIP states in which a PoP is on its way out on purpose (maintenance, shutdown). */
const DRAINING_STATES: readonly VipState[] = ['DRAINING', 'DISABLED'];

export interface MergeInput {
  /** Every configured region with its configured status. */
  regions: Map<string, RegionStatus>;
  /** PoP names per region (regions without PoPs keep their configured status). */
  pops: Map<string, string[]>;
  /** Live heartbeats (expired leases already dropped) by PoP. */
  agents: Map<string, AgentReport>;
  /** Operators' statuses by region. */
  overrides: Map<string, RegionOverride>;
  /** Operators' weights by region (a part of their own: see RegionWeightOverride). */
  weights?: Map<string, RegionWeightOverride>;
  previous: Map<string, RegionView>;
  now: number;
  /** Largest share of regions that may be out of DNS at once without force. */
  maxOutShare: number;
  /**
   * A region that went out on health this recently counts as "newly out" for the guard rail: a
   * shared false signal reaches the regions one after another, and the first ones must not stay out.
   */
  recentMs?: number;
  /** Outside-in probes (live reports by vantage point), when configured. */
  vantage?: { reports: Map<string, VantageReport>; quorum: number; minReports: number };
  /** Regions that shed answers under load (`regions.X.capacity`). */
  capacity?: Map<string, CapacityRule>;
  /** Flap damping of health changes (`control.flap_damping`). */
  damping?: FlapDamping;
  /** Regions whose health is an expression (`regions.X.health`). */
  calculated?: Map<string, CalculatedHealth>;
  /** Regions that need several PoPs serving per address family (`regions.X.min_children`). */
  minChildren?: Map<string, MinChildren>;
  /** Pools with a health of their own (`services.X.pools[].health`), judged once the regions are. */
  poolHealth?: { service: string; region: string; rule: CalculatedHealth }[];
  /** Pushed health signals as last read (expired ones included: they read as unknown). */
  signals?: Map<string, HealthSignal>;
  /**
   * PoPs whose agents have reported at least once (`pops/<pop>`). When given, a region none of
   * whose PoPs ever reported is unknown, and counts as `unknownAs`; absent, it is down.
   */
  known?: (pop: string) => boolean;
  unknownAs?: RegionStatus;
}

export interface MergeResult {
  views: Map<string, RegionView>;
  /** Regions kept in DNS by the guard rail although their health says out. */
  held: string[];
}

/**
 * What the vantage points say of each region, from one pass over their reports: reachable when
 * at least `quorum` of them reach it; fewer than `minReports` opinions is no opinion (fail open),
 * never "down". A point that reaches none of two or more targets is blind (its own side is cut
 * off) and is not counted.
 */
export function vantageVerdicts(
  regions: Iterable<string>,
  v: NonNullable<MergeInput['vantage']>,
): Map<string, VantageView> {
  const seen = new Map<string, { reachable: string[]; unreachable: string[]; blind: string[] }>();
  for (const region of regions) seen.set(region, { reachable: [], unreachable: [], blind: [] });
  for (const r of v.reports.values()) {
    const blind = r.targets.length >= 2 && r.targets.every((x) => !x.reachable);
    for (const t of r.targets) {
      const s = seen.get(t.region);
      if (s) (blind ? s.blind : t.reachable ? s.reachable : s.unreachable).push(r.point);
    }
  }
  const out = new Map<string, VantageView>();
  for (const [region, { reachable, unreachable, blind }] of seen) {
    const opinions = reachable.length + unreachable.length;
    const verdict = opinions < v.minReports ? 'no-opinion' : reachable.length >= v.quorum ? 'reachable' : 'unreachable';
    out.set(region, { verdict, reachable, unreachable, blind, quorum: v.quorum, minReports: v.minReports });
  }
  return out;
}

const vantageText = (v: VantageView) =>
  `${v.reachable.length} of ${v.reachable.length + v.unreachable.length} vantage points reach it (quorum ${v.quorum})`;

function fromSignals(region: string, input: MergeInput, vantage: VantageView | undefined): Health {
  const health = fromHealth(region, input);
  if (!vantage || vantage.verdict === 'no-opinion' || health.status !== 'up') return health;
  // A region without agents is judged from outside alone; one with agents must also be reachable.
  if (vantage.verdict === 'unreachable')
    return { status: 'down', reason: `unreachable from outside: ${vantageText(vantage)}`, source: 'vantage' };
  if (health.source === 'config')
    return { status: 'up', reason: `reachable from outside: ${vantageText(vantage)}`, source: 'vantage' };
  return health;
}

type Health = { status: RegionStatus; reason: string; source: RegionSource; unknown?: boolean };

function fromHealth(region: string, input: MergeInput): Health {
  const pops = input.pops.get(region) ?? [];
  if (pops.length === 0)
    return { status: input.regions.get(region) ?? 'up', reason: 'configured (no PoP agents)', source: 'config' };
  const reports = pops.map((p) => input.agents.get(p)).filter((r): r is AgentReport => r !== undefined);
  // No evidence either way: none of its agents has ever reported (a fresh deployment).
  if (reports.length === 0 && input.known && !pops.some(input.known)) {
    const as = input.unknownAs ?? 'up';
    return {
      status: as,
      reason: `unknown: no agent of ${pops.join(', ')} has reported yet (counted as ${as})`,
      source: 'health',
      unknown: true,
    };
  }
  if (reports.length === 0)
    return {
      status: 'down',
      reason: `no live agent heartbeat from ${pops.join(', ')} (lease expired)`,
      source: 'health',
    };
  const serving = reports.filter((r) => r.serving && r.vips.some((v) => v.state === 'UP'));
  if (serving.length)
    return { status: 'up', reason: `serving: ${serving.map((r) => r.pop).join(', ')}`, source: 'health' };
  const draining = reports.filter((r) => r.vips.some((v) => DRAINING_STATES.includes(v.state)));
  if (draining.length)
    return { status: 'draining', reason: `draining: ${draining.map((r) => r.pop).join(', ')}`, source: 'health' };
  return {
    status: 'down',
    source: 'health',
    reason: `not serving: ${reports.map((r) => `${r.pop} ${r.vips.map((v) => v.state).join('/')}${r.sessionUp ? '' : ' no BGP session'}`).join('; ')}`,
  };
}

/**
 * Each judged family for which fewer than `min_children` of the region's PoPs serve an UP VIP of
 * that family, with why. Reports are live ones: a PoP whose lease ran out serves nothing.
 */
export function familiesShort(
  pops: string[],
  agents: Map<string, AgentReport>,
  rule: MinChildren,
): { ipv4?: string; ipv6?: string } {
  const short: { ipv4?: string; ipv6?: string } = {};
  for (const family of ['ipv4', 'ipv6'] as const) {
    const need = rule[family];
    if (need === 0) continue;
    const serving = pops.filter((p) => {
      const r = agents.get(p);
      return r?.serving && r.vips.some((v) => v.state === 'UP' && vipFamily(v.prefix) === family);
    });
    if (serving.length < need)
      short[family] =
        `${serving.length} of ${pops.length} PoPs serve an ${FAMILY_NAME[family]} VIP` +
        `${serving.length ? ` (${serving.join(', ')})` : ''}, min_children ${need}`;
  }
  return short;
}

/** Applies `min_children` to a region its agents say is up: out for a family short of it, down if every judged one is. */
function byFamily(region: string, input: MergeInput, h: Health): Health & { familyOut?: RegionView['familyOut'] } {
  const rule = input.minChildren?.get(region);
  if (!rule || h.status !== 'up' || h.source !== 'health' || h.unknown) return h;
  const short = familiesShort(input.pops.get(region) ?? [], input.agents, rule);
  const judged = (['ipv4', 'ipv6'] as const).filter((f) => rule[f] > 0);
  const out = judged.filter((f) => short[f]);
  if (out.length === 0) return h;
  const why = out.map((f) => `${FAMILY_NAME[f]}: ${short[f]}`).join('; ');
  if (out.length === judged.length) return { ...h, status: 'down', reason: `too few PoPs serving: ${why}` };
  return { ...h, reason: `${h.reason}; out for ${why}`, familyOut: short };
}

/** A region's load (to the percent, so small swings are not changes) and its shed share. */
function capacityOf(region: string, input: MergeInput, prev: RegionView | undefined): Partial<RegionView> {
  const reports = (input.pops.get(region) ?? []).flatMap((p) => input.agents.get(p) ?? []);
  const raw = regionLoad(reports);
  const load = raw === undefined ? undefined : Math.round(raw * 100) / 100;
  const rule = input.capacity?.get(region);
  const shed = rule ? nextShed(prev, load, rule, input.now) : undefined;
  return { ...(load === undefined ? {} : { load }), ...(shed ?? {}) };
}

function regionView(
  region: string,
  input: MergeInput,
  vantage: VantageView | undefined,
  statusOf: (region: string) => RegionStatus | undefined,
): RegionView {
  const o = input.overrides.get(region);
  const live = isLive(o, input.now) ? o : undefined;
  const w = input.weights?.get(region);
  const weight = isLive(w, input.now) ? w?.weight : undefined;
  let status: RegionStatus;
  let reason: string;
  let source: RegionSource;
  let unknown = false;
  let familyOut: RegionView['familyOut'];
  if (live?.status) {
    status = live.status;
    reason = `operator ${live.who}: ${live.reason}${live.force ? ' (forced)' : ''}`;
    source = 'override';
  } else {
    const h = byFamily(region, input, fromSignals(region, input, vantage));
    ({ status, reason, source, familyOut } = h);
    unknown = h.unknown === true;
    const rule = input.calculated?.get(region);
    if (rule) {
      const c = calculatedStatus(rule, {
        agents: unknown ? undefined : status,
        region: statusOf,
        signals: input.signals ?? new Map(),
        now: input.now,
      });
      ({ status, reason } = c);
      source = 'calculated';
      familyOut = undefined;
    }
  }
  const prev = input.previous.get(region);
  // Damping counts changes of what health says; an operator's status is never damped.
  let damping: RegionView['damping'];
  if (input.damping && source !== 'override' && source !== 'config') {
    const d = damp(prev?.damping, status, input.damping, input.now);
    damping = d.state;
    if (d.suppressed) {
      // A reason that holds while suppressed (the decaying penalty is explain's, not a change).
      reason = `held ${d.status === 'down' ? 'out' : 'in'} by flap damping (released once the penalty decays below ${input.damping.reuseBelow}); health says ${status}: ${reason}`;
      status = d.status;
    }
  }
  return {
    status,
    weight,
    reason,
    since: prev && prev.status === status ? prev.since : input.now,
    source,
    held: false,
    ...(vantage ? { vantage } : {}),
    ...capacityOf(region, input, prev),
    ...(damping ? { damping } : {}),
    ...(unknown && source === 'health' ? { unknown: true } : {}),
    ...(familyOut && status === 'up' ? { familyOut } : {}),
  };
}

export function mergeRegionState(input: MergeInput): MergeResult {
  const verdicts = input.vantage && vantageVerdicts(input.regions.keys(), input.vantage);
  // Calculated health reads other regions' views: each is made once, on first need (the config
  // check refuses circles; one met anyway reads as unknown).
  const made = new Map<string, RegionView>();
  const making = new Set<string>();
  const viewOf = (region: string): RegionView | undefined => {
    const v = made.get(region);
    if (v || making.has(region) || !input.regions.has(region)) return v;
    making.add(region);
    const view = regionView(region, input, verdicts?.get(region), (r) => viewOf(r)?.status);
    making.delete(region);
    made.set(region, view);
    return view;
  };
  // In the configured order, whatever order calculated health made them in.
  const views = new Map<string, RegionView>();
  for (const region of input.regions.keys()) {
    const v = viewOf(region);
    if (v) views.set(region, v);
  }

  // Guard rail: if health would take more than the allowed share out at once, hold the
  // regions that are newly out on health alone (fail open) and say so. Newly: just now, or
  // within `recentMs` (they went first on the same signal).
  const total = views.size;
  const out = [...views.values()].filter((v) => v.status !== 'up').length;
  const held: string[] = [];
  if (total > 0 && out / total > input.maxOutShare) {
    for (const [region, v] of views) {
      const prev = input.previous.get(region);
      const recent = prev !== undefined && input.now - prev.since < (input.recentMs ?? 0);
      if (
        v.status !== 'up' &&
        v.source !== 'override' &&
        (prev === undefined || prev.status === 'up' || prev.held || recent)
      ) {
        held.push(region);
        views.set(region, {
          ...v,
          status: 'up',
          held: true,
          reason: `held in DNS by the guard rail (${out}/${total} regions would be out; max ${Math.round(input.maxOutShare * 100)}%): ${v.reason}`,
          since: prev?.since ?? input.now,
        });
      }
    }
  }
  return { views: withPoolsOut(views, input), held };
}

/**
 * Each pool with a health of its own, judged on the regions as DNS will have them (after the
 * guard rail): its `agents` term is its region's status. A pool out is named on its region's
 * view; the region itself is untouched (other names keep answering it).
 */
function withPoolsOut(views: Map<string, RegionView>, input: MergeInput): Map<string, RegionView> {
  if (!input.poolHealth?.length) return views;
  const out = new Map<string, Record<string, string>>();
  for (const { service, region, rule } of input.poolHealth) {
    const status = views.get(region)?.status;
    if (status !== 'up') continue; // a region out is out for every name already
    const { holds, text } = ruleHolds(rule, {
      agents: views.get(region)?.unknown ? undefined : status,
      region: (r) => views.get(r)?.status,
      signals: input.signals ?? new Map(),
      now: input.now,
    });
    if (holds) continue;
    const mine = out.get(region) ?? {};
    mine[service] = `pool health: ${text}`;
    out.set(region, mine);
  }
  for (const [region, poolsOut] of out) {
    const v = views.get(region);
    if (v) views.set(region, { ...v, poolsOut });
  }
  return views;
}

/** Would this operator change take more than the allowed share of regions out? */
export function exceedsGuardRail(
  current: Map<string, RegionView>,
  region: string,
  status: RegionStatus,
  maxOutShare: number,
): boolean {
  const after = new Map(current);
  const prev = after.get(region);
  after.set(region, { ...(prev ?? { since: 0 }), status });
  const out = [...after.values()].filter((v) => v.status !== 'up').length;
  return after.size > 0 && out / after.size > maxOutShare;
}

/**
 * When a region's failure began, as its agents saw it, for gtm_failover_seconds. A region is out
 * when none of its PoPs serves, so the last PoP to fail decides. A PoP's failure began at its
 * report's first sign of trouble (else at the report itself); one whose report is gone (lease
 * expired) failed after its last report. Unknown when a PoP was never seen.
 */
export function failureStart(
  pops: string[],
  agents: Map<string, AgentReport>,
  lastSeen: Map<string, number>,
): number | undefined {
  const starts = pops.map((p) => {
    const r = agents.get(p);
    return r ? (r.troubleSince ?? r.at) : lastSeen.get(p);
  });
  if (starts.length === 0 || starts.some((t) => t === undefined)) return undefined;
  return Math.max(...(starts as number[]));
}
