// `weighted`: a random draw by weight (pool weight, or an operator's override); weight 0 last.
import { regionsBody } from './common.js';
import type { PolicyPlugin } from './types.js';

export interface WeightedPolicy {
  kind: 'weighted';
  regions?: string[];
}

export const weighted: PolicyPlugin<WeightedPolicy> = {
  kind: 'weighted',
  bareWord: true,
  parse: (env, path, body) => ({ kind: 'weighted', regions: regionsBody(env.p, path, body, env.pools) }),
  order(policy, { pools, ctx }) {
    // Sampling without replacement in proportion to weight, in one pass: each region draws
    // the time of an exponential race at rate = its weight and the earliest runs first
    // (the same distribution as drawing one at a time, O(R log R) instead of O(R²)). So the
    // first healthy candidate is drawn in proportion to its weight among the healthy ones.
    const regions = policy.regions ?? pools;
    const weights = regions.map((r) => Math.max(0, ctx.weightOf(r)));
    const race = weights.map((w) => (w > 0 ? -Math.log(1 - ctx.random()) / w : Infinity));
    const idx = Array.from(regions, (_, i) => i).sort((a, b) => (race[a] as number) - (race[b] as number) || a - b);
    return {
      candidates: idx.map((i) => regions[i] as string),
      get rule() {
        return `weighted ${regions.map((r, i) => `${r}=${weights[i]}`).join(' ')}`;
      },
      scope: 0,
    };
  },
  locationOnly: () => false,
};
