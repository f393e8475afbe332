// Public entry of the contract between processes: store keys, agent and vantage reports, region
// views, overrides (contract.ts) and the named events one process logs and another reads back
// (events.ts). A leaf: it imports nothing else of the product, so every folder may depend on it.
export * from './contract.js';
export * from './events.js';
export { entryProblem, UNREADABLE } from './checks.js';
export { storeRoles, storeUser, type StoreRole, type StoreRange, type StorePermission } from './store-access.js';
