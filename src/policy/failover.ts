// `failover`: a priority chain of tiers, each a region or a policy: `[us-east, { nearest: {} }]`.
import { join, list } from '../validate/index.js';
import { allCandidates, type Ordering, type PolicyPlugin } from './types.js';

/** Tiers are policies of any kind (`P`: the union of every kind, see index.ts). */
export interface FailoverPolicy<P extends { kind: string } = { kind: string }> {
  kind: 'failover';
  tiers: P[];
}

export const failover: PolicyPlugin<FailoverPolicy> = {
  kind: 'failover',
  bareWord: false,
  parse(env, path, body) {
    const tiers = list(env.p, path, body ?? {}, { nonEmpty: true }) ?? [];
    return { kind: 'failover', tiers: tiers.map((t, i) => env.policy(join(path, i), t)) };
  },
  order(policy, env) {
    const seen = new Set<string>();
    const candidates: string[] = [];
    const tiers: Ordering[] = [];
    let scope = 0;
    for (const tier of policy.tiers) {
      const o = env.sub(tier);
      tiers.push(o);
      scope = Math.max(scope, o.scope);
      for (const r of allCandidates(o)) if (!seen.has(r)) (seen.add(r), candidates.push(r));
    }
    return {
      candidates,
      get rule() {
        return `failover [${tiers.map((t) => t.rule).join(' > ')}]`;
      },
      scope,
    };
  },
  locationOnly: (policy, sub) => policy.tiers.every(sub),
};
