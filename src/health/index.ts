// Public entry of the health capability: probes and the pure rise/fall and cluster logic.
export { probe, readErrorRate, readLoad, type Check, type ProbeResult } from './probes.js';
export {
  feed,
  isChanging,
  newRiseFall,
  clusterVerdict,
  requiredHealthy,
  type RiseFall,
  type NodeHealth,
  type Verdict,
} from './state.js';
