// Public entry of the control capability: shared state, its merge into DNS, and the API.
export * from './region-state.js';
export { FileStateStore, type Entry, type StateStore } from './store.js';
export { mergeRegionState, exceedsGuardRail, type AgentReport, type RegionOverride, type MergeInput } from './merge.js';
export { RegionFeed, openStore, KEYS } from './feed.js';
export { startControl, AuditLog, type AuditEntry, type ControlServer } from './api.js';
