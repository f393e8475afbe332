// Pure per-VIP state machine: INIT, UP, DRAINING, DOWN, DISABLED (maintenance).
//
// Safety rules, in order:
// - A failing cluster is withdrawn at once: holding a dead VIP announced black-holes users.
// - Re-announcing after a withdraw waits for the hold-down (flap control).
// - Maintenance and shutdown drain first (less preferred for the drain period), then withdraw.
import type { Verdict } from '../health/state.js';
import { decayed, flapped, releaseAt, stillSuppressed, type FlapDamping, type FlapPenalty } from '../state/damping.js';
import type { VipState } from '../contract/index.js';

export type { VipState };
export type Announce = 'normal' | 'drain' | 'none';

export interface VipMachine {
  state: VipState;
  since: number;
  reason: string;
  /** When the announcement last went from withdrawn to announced or back. */
  lastFlip: number;
  drainUntil?: number;
  everUp: boolean;
  flaps: number;
  degraded: boolean;
  /** DOWN but healthy again, waiting for the hold-down to end before re-announcing. */
  heldDown?: boolean;
  /** DOWN but kept announced in drained form by the BGP guard rail (shared VIPs only). */
  held?: boolean;
  /** Flap damping's penalty (`control.flap_damping`): a flapping VIP stays withdrawn until it decays. */
  damping?: FlapPenalty;
  /** DOWN and healthy again, kept withdrawn by flap damping. */
  damped?: boolean;
  /**
   * When the machine wants to be stepped again even if no input changes: the end of a drain
   * or of the hold-down of a healthy-again VIP. The runtime sets a timer; nothing parses reasons.
   */
  wakeAt?: number;
}

export interface StepInput {
  verdict: Verdict;
  verdictReason: string;
  maintenance: boolean;
  shuttingDown: boolean;
  now: number;
  holdDownMs: number;
  drainMs: number;
  /**
   * Shared anycast VIPs: false while the fleet guard rail has not allowed a withdrawal on health
   * grounds (the VIP then stays announced, drained); absent or true for every other VIP.
   */
  withdrawAllowed?: boolean;
  /** Why the withdrawal is held (shown in the reason). */
  holdReason?: string;
  /** Flap damping (`control.flap_damping`): each health flap adds a penalty; past the threshold the VIP stays withdrawn. */
  damping?: FlapDamping;
}

export function newVipMachine(now: number): VipMachine {
  return {
    state: 'INIT',
    since: now,
    reason: 'waiting for the first health verdict',
    lastFlip: -Infinity,
    everUp: false,
    flaps: 0,
    degraded: false,
  };
}

export function announceOf(m: VipMachine): Announce {
  if (m.state === 'UP') return m.degraded ? 'drain' : 'normal';
  return m.state === 'DRAINING' || (m.state === 'DOWN' && m.held) ? 'drain' : 'none';
}

export function step(m: VipMachine, i: StepInput): { m: VipMachine; changed: boolean } {
  const r = stepInner(m, i);
  return { m: { ...r.m, wakeAt: wakeOf(r.m, i) }, changed: r.changed };
}

/** When flap damping releases a suppressed VIP (undefined: it is not suppressed now). */
function dampedUntil(m: VipMachine, i: StepInput): number | undefined {
  return i.damping && m.damping && stillSuppressed(m.damping, i.damping, i.now)
    ? Math.ceil(releaseAt(m.damping, i.damping))
    : undefined;
}

/** A draining VIP wakes when the drain ends; a healthy-again DOWN VIP when its hold-down (or damping) ends. */
function wakeOf(m: VipMachine, i: StepInput): number | undefined {
  if (m.state === 'DRAINING' && m.drainUntil !== undefined) return m.drainUntil;
  if (m.state === 'DOWN' && m.heldDown) return Math.max(m.lastFlip + i.holdDownMs, dampedUntil(m, i) ?? 0);
  return undefined;
}

/**
 * Health failing again while damping holds the VIP withdrawn is a flap too (RFC 2439 counts flaps
 * while suppressed): a cluster that keeps flapping stays out until it stops.
 */
function flapWhileHeld(m: VipMachine, i: StepInput): Partial<VipMachine> {
  return m.damped && i.damping ? { flaps: m.flaps + 1, damping: flapped(m.damping, i.damping, i.now) } : {};
}

/** Healthy again but kept withdrawn by damping until `released`: the reason says the penalty. */
function heldByDamping(m: VipMachine, next: VipMachine, i: StepInput, released: number) {
  const inS = Math.ceil((released - i.now) / 1000);
  // The penalty, not the flap count: the count runs over the agent's life, the penalty decays.
  const penalty = Math.round(decayed(m.damping as FlapPenalty, i.now, i.damping as FlapDamping));
  const reason = `healthy again, held down by flap damping (penalty ${penalty}) for about ${inS} s more`;
  // Said once, when it begins (a heartbeat and a log line), not at every step of the wait.
  return { m: { ...next, reason, heldDown: true, damped: true }, changed: !m.damped };
}

function stepInner(m: VipMachine, i: StepInput): { m: VipMachine; changed: boolean } {
  // `held` is kept until a transition (go) says otherwise.
  const next: VipMachine = { ...m, degraded: i.verdict === 'degraded', heldDown: false, damped: false };
  const go = (state: VipState, reason: string, held = false): { m: VipMachine; changed: boolean } => {
    const wasAnnounced = announceOf(m) !== 'none';
    const n: VipMachine = { ...next, state, reason, held, since: state === m.state ? m.since : i.now };
    const isAnnounced = announceOf(n) !== 'none';
    if (wasAnnounced !== isAnnounced) {
      n.lastFlip = i.now;
      // A flap: health took an announced VIP away, or brought it back after that.
      if (m.everUp && (state === 'DOWN' || (state === 'UP' && m.state === 'DOWN'))) {
        n.flaps++;
        if (i.damping) n.damping = flapped(m.damping, i.damping, i.now);
      }
    }
    if (state === 'UP') n.everUp = true;
    return {
      m: n,
      changed: state !== m.state || reason !== m.reason || n.degraded !== m.degraded || held !== (m.held ?? false),
    };
  };

  if (i.maintenance || i.shuttingDown) {
    const why = i.shuttingDown ? 'agent shutting down' : 'maintenance';
    if (m.state === 'UP') {
      const r = go('DRAINING', `${why}: draining for ${i.drainMs} ms`);
      return { m: { ...r.m, drainUntil: i.now + i.drainMs }, changed: true };
    }
    if (m.state === 'DRAINING') {
      if (i.now >= (m.drainUntil ?? 0)) return go('DISABLED', `${why}: drained and withdrawn`);
      return { m: next, changed: next.degraded !== m.degraded };
    }
    if (m.state !== 'DISABLED') return go('DISABLED', `${why}: withdrawn`);
    return { m: next, changed: false };
  }

  switch (i.verdict) {
    case 'unknown':
      if (m.state === 'DISABLED' || m.state === 'DRAINING')
        return go('INIT', 'maintenance ended; waiting for a health verdict');
      return { m: next, changed: next.degraded !== m.degraded };
    case 'unhealthy':
      Object.assign(next, flapWhileHeld(m, i));
      // The BGP guard rail: a shared VIP still announced is kept, drained, until the fleet allows.
      if (i.withdrawAllowed === false && (m.state === 'UP' || m.held))
        return go(
          'DOWN',
          `unhealthy: ${i.verdictReason}; held announced by the BGP guard rail: ${i.holdReason ?? ''}`,
          true,
        );
      if (m.state !== 'DOWN' || m.held) return go('DOWN', `unhealthy: ${i.verdictReason}`);
      return m.reason === `unhealthy: ${i.verdictReason}`
        ? { m: next, changed: false }
        : go('DOWN', `unhealthy: ${i.verdictReason}`);
    case 'healthy':
    case 'degraded': {
      if (m.state === 'UP')
        return next.degraded !== m.degraded
          ? go('UP', `${i.verdict}: ${i.verdictReason}`)
          : { m: next, changed: false };
      // Held by the guard rail, it never left: no hold-down to wait for.
      if (m.state === 'DOWN' && m.held) return go('UP', `${i.verdict}: ${i.verdictReason}`);
      // Flapping: withdrawn until the penalty decays (never held announced: that would black-hole).
      const released = m.state === 'DOWN' ? dampedUntil(m, i) : undefined;
      if (released !== undefined) return heldByDamping(m, next, i, released);
      const wait = m.lastFlip + i.holdDownMs - i.now;
      if (m.state === 'DOWN' && wait > 0) {
        const reason = `healthy again, held down for ${Math.ceil(wait)} ms more`;
        return { m: { ...next, reason, heldDown: true }, changed: false };
      }
      return go('UP', `${i.verdict}: ${i.verdictReason}`);
    }
  }
}
