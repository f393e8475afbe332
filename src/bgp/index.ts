// Public entry of the bgp capability: the GoBGP sidecar client, paths and reconciliation.
export { GobgpClient, GobgpError, toApiPath, fromApiPath, DEFAULT_PROTO_DIR, type PeerEvent } from './gobgp.js';
export { reconcile, validatePath, pathSignature, familyOf, type AnnouncedPath, type ReconcilePlan } from './paths.js';
export { startGobgpd, renderGobgpdToml, type Sidecar } from './sidecar.js';
export { BirdClient, parseBfdSessions, type BirdRoute } from './bird-ctl.js';
export { PeerLiveness } from './bfd.js';
