// Public entry of the dns capability: the authoritative GeoDNS server.
export { Authority, type Decision, type QueryInfo } from './authority.js';
export { DnsServer, type ServerOptions } from './server.js';
export { runDns, type DnsHandle, type RunOptions } from './run.js';
export { explain, Explainer, type ExplainRequest } from './explain.js';
export { compileZones, findZone, prepareForWorkers } from './zone.js';
export { exportZone } from './zone-export.js';
export { SerialKeeper } from './serials.js';
export { keptCopyFile, readKeptCopy, layCopy } from './secondary.js';
