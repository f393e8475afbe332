// `all-healthy`: every region of the pool list (the service answers all the healthy ones).
import { regionsBody } from './common.js';
import type { PolicyPlugin } from './types.js';

export interface AllHealthyPolicy {
  kind: 'all-healthy';
  regions?: string[];
}

export const allHealthy: PolicyPlugin<AllHealthyPolicy> = {
  kind: 'all-healthy',
  bareWord: true,
  parse: (env, path, body) => ({ kind: 'all-healthy', regions: regionsBody(env.p, path, body, env.pools) }),
  order: (policy, env) => ({ candidates: policy.regions ?? env.pools, rule: 'all healthy regions', scope: 0 }),
  locationOnly: () => true,
};
