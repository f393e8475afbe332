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
    // Sampling without replacement: the first healthy candidate is then drawn with
    // probability proportional to its weight among the healthy ones.
    const pool = (policy.regions ?? pools).map((r) => ({ r, w: Math.max(0, ctx.weightOf(r)) }));
    const out: string[] = [];
    const zero = pool.filter((x) => x.w === 0).map((x) => x.r);
    let live = pool.filter((x) => x.w > 0);
    while (live.length) {
      let total = 0;
      for (const x of live) total += x.w;
      let pick = ctx.random() * total;
      let i = 0;
      for (; i < live.length - 1; i++) {
        pick -= (live[i] as { w: number }).w;
        if (pick < 0) break;
      }
      out.push((live[i] as { r: string }).r);
      live = live.filter((_, j) => j !== i);
    }
    return { candidates: [...out, ...zero], rule: `weighted ${pool.map((x) => `${x.r}=${x.w}`).join(' ')}`, scope: 0 };
  },
  locationOnly: () => false,
};
