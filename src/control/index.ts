// Public entry of the control capability (shared state, and later the HTTP API and schedules).
export * from './region-state.js';
