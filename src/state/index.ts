// Public entry of the state capability: the shared stores, the region state DNS reads, and the
// pure merge that turns heartbeats and overrides into it (the values it moves are typed in
// src/contract). Nothing here loads fastify, node-cron or etcd3 (etcd3 only once an etcd store
// is opened).
export { InMemoryRegionState, type RegionStateSource, type RegionSnapshot } from './region-state.js';
export {
  FileStateStore,
  NoStore,
  StoreTimeoutError,
  StoreUnavailableError,
  type Entry,
  type PutIfOptions,
  type StateStore,
  type StoreCondition,
} from './store.js';
export {
  mergeRegionState,
  exceedsGuardRail,
  failureStart,
  familiesShort,
  type MergeInput,
  type MergeResult,
} from './merge.js';
export { RegionFeed, openStore, observeStore, feedMetrics } from './feed.js';
export { CheckedStore, type InvalidEntry } from './checked-store.js';
export { anycastViews, type AnycastView, type AnycastAnnounce } from './anycast.js';
export { regionStateMetrics } from './metrics.js';
