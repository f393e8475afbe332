// Public entry of the control capability: the operators' API, operator changes with the
// guard rail and audit, schedules and the operators' console. Shared state lives in src/state.
export { startControl, type ControlServer } from './api.js';
export { AuditLog, type AuditEntry } from './audit.js';
export { Changes, type ChangeRequest, type ChangeResult } from './changes.js';
export { startSchedules } from './schedules.js';
