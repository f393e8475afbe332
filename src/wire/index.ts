// Public entry of the wire codec: DNS messages as bytes (RFC 1035, 6891 EDNS0, 7871 ECS) for the
// authoritative server, DNSSEC, probes and tools. A leaf: it imports nothing else of the product.
export * from './rr.js';
export * from './parse.js';
export { encodeName, ResponseWriter } from './writer.js';
export { buildQuery, type QueryOptions } from './query.js';
export { readResponse, recordLine, keptType, quoted, type TextRecord, type ReadResponse } from './records.js';
export { svcbWire, addressHints, type SvcbParts } from './svcb.js';
