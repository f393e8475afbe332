// Flap damping (RFC 2439's idea, applied to a region's health): each change of a region's health
// adds a penalty that decays with a half-life; past `suppressAbove` the region is held out of
// DNS (or held in, by policy) until the penalty decays below `reuseBelow`. A region that fails
// once moves at once; one that flaps is kept still. Pure: the caller gives the time.
import type { FlapDamping } from '../config/index.js';
import type { RegionStatus, RegionView } from '../contract/index.js';

export type { FlapDamping };

/** What damping keeps of a region between merges. */
export interface DampingState {
  penalty: number;
  /** When `penalty` was computed (it decays from there). */
  at: number;
  /** The status health gives, undamped: its changes are what is counted. */
  raw: RegionStatus;
  /** Held at this status while suppressed. */
  heldAs?: RegionStatus;
}

/** The penalty `s` decays to by `now`. */
export function decayed(s: Pick<DampingState, 'penalty' | 'at'>, now: number, rule: FlapDamping): number {
  return s.penalty * 2 ** (-Math.max(0, now - s.at) / 1000 / rule.halfLifeS);
}

/** When a suppressed region's penalty falls below `reuseBelow` (Unix ms). */
export function releaseAt(s: Pick<DampingState, 'penalty' | 'at'>, rule: FlapDamping): number {
  if (s.penalty <= rule.reuseBelow) return s.at;
  return s.at + Math.log2(s.penalty / rule.reuseBelow) * rule.halfLifeS * 1000;
}

/**
 * The damped status for a region whose health now says `raw`. A change of `raw` adds the penalty
 * (capped so suppression never lasts past `maxSuppressS` of decay); past `suppressAbove` the
 * region is held out (`hold: out`, as down) or in (`hold: in`, as up) until below
 * `reuseBelow`.
 */
export function damp(
  prev: DampingState | undefined,
  raw: RegionStatus,
  rule: FlapDamping,
  now: number,
): { status: RegionStatus; state: DampingState; suppressed: boolean } {
  let penalty = prev ? decayed(prev, now, rule) : 0;
  // The first status a region gets is not a flap.
  if (prev && prev.raw !== raw) penalty += rule.penalty;
  penalty = Math.min(penalty, ceilingOf(rule));
  const wasHeld = prev?.heldAs !== undefined;
  const suppressed = wasHeld ? penalty >= rule.reuseBelow : penalty > rule.suppressAbove;
  const heldAs: RegionStatus | undefined = suppressed ? (rule.hold === 'out' ? 'down' : 'up') : undefined;
  // Kept as it was while nothing changes (the penalty decays from its time): no new state per merge.
  const state: DampingState =
    prev && prev.raw === raw && wasHeld === suppressed
      ? prev
      : { penalty: Math.round(penalty), at: now, raw, ...(heldAs ? { heldAs } : {}) };
  return { status: heldAs ?? raw, state, suppressed };
}

/** For explain and the API: the penalty now and, when suppressed, when it will be released. */
export function dampingText(v: Pick<RegionView, 'damping'>, rule: FlapDamping, now: number): string | undefined {
  const d = v.damping;
  if (!d) return undefined;
  const p = Math.round(decayed(d, now, rule));
  if (!d.heldAs) return `flap penalty ${p} (suppressed above ${rule.suppressAbove})`;
  const inS = Math.max(0, Math.round((releaseAt(d, rule) - now) / 1000));
  return `flapping: held ${d.heldAs === 'down' ? 'out' : 'in'} by damping, penalty ${p}, released below ${rule.reuseBelow} in about ${inS} s`;
}

/** What damping keeps of a VIP (the agent): its penalty, and whether it is held withdrawn. */
export interface FlapPenalty {
  penalty: number;
  at: number;
  suppressed: boolean;
}

/** A penalty never decays for longer than `maxSuppressS` before it falls below `reuseBelow`. */
const ceilingOf = (rule: FlapDamping) => rule.reuseBelow * 2 ** (rule.maxSuppressS / rule.halfLifeS);

/** After one more flap: the penalty grows by `penalty` and is suppressed past `suppressAbove`. */
export function flapped(prev: FlapPenalty | undefined, rule: FlapDamping, now: number): FlapPenalty {
  const penalty = Math.min((prev ? decayed(prev, now, rule) : 0) + rule.penalty, ceilingOf(rule));
  const held = prev !== undefined && stillSuppressed(prev, rule, now);
  return { penalty: Math.round(penalty), at: now, suppressed: held || penalty > rule.suppressAbove };
}

/** Whether a suppressed penalty is still at or above `reuseBelow` at `now`. */
export function stillSuppressed(s: FlapPenalty | undefined, rule: FlapDamping, now: number): boolean {
  return s !== undefined && s.suppressed && decayed(s, now, rule) >= rule.reuseBelow;
}
