// Calculated health (`regions.X.health`): a region's status as an expression over its agents'
// verdict, pushed signals and other regions' statuses, in three-valued logic (Kleene's): a signal
// never set, or past its lease, is unknown, and unknown is never taken for its last value. The
// trace says each step, for explain and the region's reason. Pure: the caller gives the time.
import type { CalculatedHealth, HealthExpr } from '../config/index.js';
import { isLive, type HealthSignal, type RegionStatus } from '../contract/index.js';

export type Tri = 'up' | 'down' | 'unknown';

export interface HealthTerms {
  /** The region's own health (agents, vantage points): up, or not; undefined: unknown (none reported yet). */
  agents: RegionStatus | undefined;
  /** Another region's status now. */
  region(name: string): RegionStatus | undefined;
  signals: Map<string, HealthSignal>;
  now: number;
}

const asTri = (s: RegionStatus | undefined): Tri => (s === undefined ? 'unknown' : s === 'up' ? 'up' : 'down');

/** The expression's value and one line that shows how it came out. */
export function evaluate(e: HealthExpr, t: HealthTerms): { value: Tri; trace: string } {
  switch (e.kind) {
    case 'agents': {
      const value = asTri(t.agents);
      return { value, trace: `agents=${value}` };
    }
    case 'region': {
      const value = asTri(t.region(e.name));
      return { value, trace: `region ${e.name}=${value}` };
    }
    case 'signal': {
      const s = t.signals.get(e.name);
      const value: Tri = s && isLive(s, t.now) ? (s.up ? 'up' : 'down') : 'unknown';
      const why = !s ? ' (never set)' : value === 'unknown' ? ' (lease ran out)' : '';
      return { value, trace: `signal ${e.name}=${value}${why}` };
    }
    case 'not': {
      const inner = evaluate(e.of, t);
      const value: Tri = inner.value === 'unknown' ? 'unknown' : inner.value === 'up' ? 'down' : 'up';
      return { value, trace: `not(${inner.trace})=${value}` };
    }
    default: {
      const parts = e.of.map((x) => evaluate(x, t));
      const ups = parts.filter((x) => x.value === 'up').length;
      const unknowns = parts.filter((x) => x.value === 'unknown').length;
      // all: every term up; any: one up; at_least n: n up. Unknown while the unknowns could tip it.
      const need = e.kind === 'at_least' ? e.n : e.kind === 'all' ? parts.length : 1;
      const value: Tri = ups >= need ? 'up' : ups + unknowns >= need ? 'unknown' : 'down';
      const name = e.kind === 'at_least' ? `at_least ${e.n} of` : e.kind;
      return { value, trace: `${name}(${parts.map((x) => x.trace).join(', ')})=${value}` };
    }
  }
}

/**
 * Whether a rule holds, unknown counting as `rule.unknown` (up by default: fail open), and the
 * evaluation as one line. A region's and a pool's health both read it.
 */
export function ruleHolds(rule: CalculatedHealth, t: HealthTerms): { holds: boolean; value: Tri; text: string } {
  const { value, trace } = evaluate(rule.expr, t);
  const holds = (value === 'unknown' ? rule.unknown : value) === 'up';
  return { holds, value, text: `${trace}${value === 'unknown' ? ` (unknown counts as ${rule.unknown})` : ''}` };
}

/** The region's status from its expression: up while it holds; out when it does not (draining stays draining). */
export function calculatedStatus(
  rule: CalculatedHealth,
  t: HealthTerms,
): { status: RegionStatus; reason: string; value: Tri } {
  const { holds, value, text } = ruleHolds(rule, t);
  const status: RegionStatus = holds ? 'up' : t.agents === 'draining' ? 'draining' : 'down';
  return { status, value, reason: `calculated: ${text}` };
}
