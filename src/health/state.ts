// Pure health logic: per-node rise/fall thresholds and the cluster verdict per VIP.

export type NodeHealth = 'unknown' | 'up' | 'down';

export interface RiseFall {
  state: NodeHealth;
  okStreak: number;
  failStreak: number;
  /** When the current run of failed probes began (the first sign of a failure; none while passing). */
  failingSince?: number;
  /** Last probe outcome, for /status. */
  last?: { ok: boolean; detail: string; at: number; ms: number };
}

export function newRiseFall(): RiseFall {
  return { state: 'unknown', okStreak: 0, failStreak: 0 };
}

/** Feeds one probe result, made at `at`; returns the new state and whether it changed. */
export function feed(
  rf: RiseFall,
  ok: boolean,
  rise: number,
  fall: number,
  at: number,
): { rf: RiseFall; changed: boolean } {
  const okStreak = ok ? rf.okStreak + 1 : 0;
  const failStreak = ok ? 0 : rf.failStreak + 1;
  let state = rf.state;
  if (ok && state !== 'up' && okStreak >= rise) state = 'up';
  if (!ok && state !== 'down' && failStreak >= fall) state = 'down';
  const failingSince = ok ? undefined : (rf.failingSince ?? at);
  return { rf: { ...rf, state, okStreak, failStreak, failingSince }, changed: state !== rf.state };
}

/** A node in transition (or not yet known) is probed at the fast interval. */
export function isChanging(rf: RiseFall): boolean {
  return rf.state === 'unknown' || (rf.state === 'up' && rf.failStreak > 0) || (rf.state === 'down' && rf.okStreak > 0);
}

export type Verdict = 'unknown' | 'healthy' | 'degraded' | 'unhealthy';

export interface ClusterInput {
  nodes: NodeHealth[];
  /** Absolute count, or a share of the nodes ("50%"). */
  minHealthy: number | string;
  /** Passive signal: error rate reported by the LB, when configured. */
  errorRate?: number;
  maxErrorRate?: number;
}

export function requiredHealthy(minHealthy: number | string, total: number): number {
  if (typeof minHealthy === 'number') return minHealthy;
  const share = Number(minHealthy.replace('%', '')) / 100;
  return Math.max(1, Math.ceil(share * total));
}

/** Healthy while enough nodes are up; unknown until every node has a first verdict. */
export function clusterVerdict(c: ClusterInput): { verdict: Verdict; reason: string } {
  const up = c.nodes.filter((n) => n === 'up').length;
  const need = requiredHealthy(c.minHealthy, c.nodes.length);
  if (up >= need) {
    if (c.maxErrorRate !== undefined && c.errorRate !== undefined && c.errorRate > c.maxErrorRate) {
      return {
        verdict: 'degraded',
        reason: `${up}/${c.nodes.length} nodes up but LB error rate ${(c.errorRate * 100).toFixed(1)}% > ${(c.maxErrorRate * 100).toFixed(1)}%`,
      };
    }
    return { verdict: 'healthy', reason: `${up}/${c.nodes.length} nodes up (need ${need})` };
  }
  const unknown = c.nodes.filter((n) => n === 'unknown').length;
  if (up + unknown >= need)
    return { verdict: 'unknown', reason: `${up} up, ${unknown} not yet checked (need ${need})` };
  return { verdict: 'unhealthy', reason: `${up}/${c.nodes.length} nodes up (need ${need})` };
}
