// Public entry of the dns capability: the authoritative GeoDNS server.
export { Authority, prepareForWorkers, type Decision, type QueryInfo } from './authority.js';
export { DnsServer, type ServerOptions } from './server.js';
export { runDns, type DnsHandle, type RunOptions } from './run.js';
export { explain, type ExplainRequest } from './explain.js';
export { order, select, type Client, type Ordering, type PolicyContext, type Selection } from '../policy/index.js';
export {
  buildQuery,
  parseQuery,
  encodeName,
  RCODE,
  RCODE_NAME,
  TYPE,
  TYPE_NAME,
  type Query,
  type ParseResult,
} from './wire.js';
export { compileZones, findZone } from './zone.js';
