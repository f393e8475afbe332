// Public entry of the control capability: shared state, its merge into DNS, and the API.
export * from './region-state.js';
export { FileStateStore, type Entry, type StateStore } from './store.js';
export { mergeRegionState, exceedsGuardRail, type AgentReport, type RegionOverride, type MergeInput } from './merge.js';
export { RegionFeed, openStore, KEYS } from './feed.js';
export { startControl, type ControlServer } from './api.js';
export { AuditLog, type AuditEntry } from './audit.js';
export { Changes, type ChangeRequest, type ChangeResult } from './changes.js';
export { startSchedules } from './schedules.js';
export { EtcdStateStore } from './etcd-store.js';
