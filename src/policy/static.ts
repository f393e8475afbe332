// A region name as the policy: that region only (also a failover tier such as `us-east`).
import type { PolicyPlugin } from './types.js';

export interface StaticPolicy {
  kind: 'static';
  regions: string[];
}

export const staticRegion: PolicyPlugin<StaticPolicy> = {
  kind: 'static',
  bareWord: false,
  // Reached through a region name, never written as `{ static: ... }`.
  parse: (_env, _path, body) => ({ kind: 'static', regions: [String(body)] }),
  order: (policy) => ({ candidates: policy.regions, rule: `static ${policy.regions.join(',')}`, scope: 0 }),
  locationOnly: () => true,
};
