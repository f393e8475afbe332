// The validated, normalised shape of the configuration file. Names are absolute,
// lower case and without the trailing dot ("www.example.test").

import type { EventName, RegionStatus } from '../contract/index.js';
import type { ApiToken } from '../auth/index.js';
import type { Prefix } from '../net/index.js';
import type { SvcbParts } from '../wire/index.js';

export type { SvcbParts };

export type { RegionStatus };

/** `control.flap_damping`: how a region's health changes are damped (src/state/damping.ts). */
export interface FlapDamping {
  /** Added at each change of a region's health. */
  penalty: number;
  /** Held (out, or in) once the penalty passes this ... */
  suppressAbove: number;
  /** ... until it decays below this. */
  reuseBelow: number;
  halfLifeS: number;
  /** The longest a region stays held after its last flap (caps the penalty). */
  maxSuppressS: number;
  /** `out`: held as down (the default); `in`: held as up. */
  hold: 'out' | 'in';
}

/**
 * `control.store_lost`: what a DNS node does when its shared store stops answering
 * (src/state/store-lost.ts). Until `maxStaleS` it serves the last view it read.
 */
export interface StoreLostRule {
  maxStaleS: number;
  /**
   * Then: `configured`, every region at its configured status (fail open); `servfail`, SERVFAIL
   * for steered names, so resolvers ask another of the zone's servers; `keep`, the last view on.
   */
  then: 'configured' | 'servfail' | 'keep';
}

/** `regions.X.capacity`: when and how fast DNS sheds the region's answers (src/state/capacity.ts). */
export interface CapacityRule {
  /** Utilisation (reported load / capacity) above which the shed share grows. */
  shedAbove: number;
  /** Utilisation below which the shed share shrinks back. */
  releaseBelow: number;
  /** The largest share of a region's answers ever shed (the rest stays, whatever the load). */
  maxShed: number;
  /** How fast the share moves, per second (0.05: 5 points a second). */
  ratePerS: number;
}

export interface Region {
  name: string;
  vip4?: string;
  vip6?: string;
  lat: number;
  lon: number;
  country?: string;
  weight: number;
  status: RegionStatus;
  /** How vantage points check this region's VIPs (default: `control.vantage.check`). */
  check?: Check;
  /** Shed a share of its answers to the next region as its LBs' reported load passes a threshold. */
  capacity?: CapacityRule;
  /** Calculated health: the region is up while this expression holds (src/state/calculated.ts). */
  health?: CalculatedHealth;
  /** `min_children`: PoPs that must serve a VIP of each family for the region to be answered in it. */
  minChildren?: MinChildren;
}

/**
 * `regions.X.min_children`: how many of a region's PoPs must serve an UP VIP of each address
 * family for DNS to hand out the region's address of that family (0: that family is not judged
 * apart). Short of it for one family, the region is out for A (or AAAA) queries alone; short of
 * it for every judged family, it is down.
 */
export interface MinChildren {
  ipv4: number;
  ipv6: number;
}

/**
 * One term of a calculated health expression (`regions.X.health`). Leaves: `agents` (the region's
 * own health from its agents and vantage points), a pushed `signal`, another `region`'s status.
 */
export type HealthExpr =
  | { kind: 'agents' }
  | { kind: 'signal'; name: string }
  | { kind: 'region'; name: string }
  | { kind: 'all' | 'any'; of: HealthExpr[] }
  | { kind: 'at_least'; n: number; of: HealthExpr[] }
  | { kind: 'not'; of: HealthExpr };

export interface CalculatedHealth {
  expr: HealthExpr;
  /** What an expression that comes out unknown (a signal never set or past its lease) counts as. */
  unknown: 'up' | 'down';
}

/** `control.signals.NAME`: a health signal pushed through the API or an Alertmanager webhook. */
export interface SignalSettings {
  /** A value not renewed for this long goes to unknown (not to its last value). */
  leaseS: number;
}

export type StaticRecord =
  | { type: 'A'; name: string; ttl: number; address: string }
  | { type: 'AAAA'; name: string; ttl: number; address: string }
  | { type: 'NS' | 'CNAME' | 'PTR'; name: string; ttl: number; target: string }
  | { type: 'MX'; name: string; ttl: number; preference: number; exchange: string }
  | { type: 'TXT'; name: string; ttl: number; strings: string[] }
  | { type: 'SRV'; name: string; ttl: number; priority: number; weight: number; port: number; target: string }
  | { type: 'CAA'; name: string; ttl: number; flags: number; tag: string; value: string }
  /** Delegation signer at a zone cut (RFC 4034 §5): served by this, the parent side. */
  | { type: 'DS'; name: string; ttl: number; keyTag: number; algorithm: number; digestType: number; digest: string }
  /**
   * Any other type, its RDATA given in RFC 3597's generic form (`\# LENGTH HEX`): served as it
   * is (SVCB, HTTPS, TLSA, or TYPE65534...). `code` is its type number, `data` its RDATA in hex.
   */
  | { type: 'GENERIC'; name: string; ttl: number; code: number; data: string };

export interface Soa {
  mname: string;
  rname: string;
  serial: number;
  /** `serial: auto`: the DNS primary sets `serial` from the content (src/dns/serials.ts). */
  auto?: boolean;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
  ttl: number;
}

/** Online signing of a zone (`zones.<name>.dnssec`); the keys are files in `keyDir`. */
export interface ZoneDnssec {
  keyDir: string;
  /** Algorithm new keys get (`gtm dnssec keygen`, rollovers): 13 ECDSAP256SHA256 or 15 ED25519. */
  algorithm: 13 | 15;
  dnskeyTtl: number;
  /** A signature is valid from now - inceptionOffsetS to now + validityS ... */
  validityS: number;
  inceptionOffsetS: number;
  /** ... and made again (not reused from the cache) once it is this old. */
  refreshS: number;
}

export interface Zone {
  name: string;
  soa: Soa;
  ns: string[];
  nsTtl: number;
  records: StaticRecord[];
  dnssec?: ZoneDnssec;
  /**
   * Set by the DNS primary, not the config: the regions up when this zone's `healthy` transfer
   * renditions were made (the serial stands for exactly this content).
   */
  transferUp?: string[];
  /** A catalog zone (RFC 9432): its records list the other zones. */
  catalog?: boolean;
  /** The zone file and what it includes, as read (a reload reads them again when one changes). */
  files?: string[];
  /**
   * `primary`: this server is a secondary of the zone; its content comes by AXFR/IXFR from these
   * primaries (src/dns/secondary.ts), steered services are laid on top.
   */
  secondary?: {
    primaries: { host: string; port: number }[];
    /** A key of dns.tsig_keys: transfers and NOTIFYs are signed with it. */
    tsig?: string;
  };
  /**
   * Set by the DNS primary, not the config: a secondary zone with no content yet, or past its
   * SOA expire without reaching a primary. Its names are answered SERVFAIL.
   */
  unavailable?: string;
  /** Outgoing zone transfers (AXFR; IXFR answered in AXFR form): who may ask. */
  transfer?: {
    allow: Prefix[];
    /** Keys (dns.tsig_keys) a request must be signed with; empty: TSIG optional. */
    tsig: string[];
    /** Secondaries sent a NOTIFY when the zone's serial changes. */
    notify: { host: string; port: number }[];
  };
}

/** A policy node (src/policy: one plugin per kind); policies nest through `failover` tiers. */
export type { Policy, LatencyNetwork, Pool } from '../policy/index.js';
import type { FenceRule, Policy, Pool } from '../policy/index.js';

export interface Service {
  key: string;
  name: string;
  ttl: number;
  /** How many addresses to answer with; 0 means every healthy candidate. */
  answers: number;
  pools: Pool[];
  policy: Policy;
  /** Regions answered when no candidate is healthy; empty means all candidates. */
  lastResort: string[];
  ecs: boolean;
  /**
   * What a secondary (which cannot steer) serves for this name, in zone transfers and `gtm zone
   * export`: every pool address (`pools`, the default), the `last_resort` regions' addresses, or
   * the pools whose region is up when the zone is transferred (`healthy`: a region state change
   * is then a content change, with a new serial and NOTIFY).
   */
  transferAs: TransferRendition;
  /**
   * `https`: the name also answers HTTPS (RFC 9460) with these parameters, its `ipv4hint` and
   * `ipv6hint` the addresses the policy gives this client (the same decision as its A/AAAA).
   */
  https?: SvcbParts;
  /** Rules by client network or AS that pin or exclude regions; the first match applies. */
  fence: FenceRule[];
  /**
   * Pools with a health of their own (`pools[].health`), by region: this name skips the region
   * while the expression does not hold (its `agents` term is the region's status).
   */
  poolHealth?: Map<string, CalculatedHealth>;
}

export const TRANSFER_RENDITIONS = ['pools', 'last_resort', 'healthy'] as const;
export type TransferRendition = (typeof TRANSFER_RENDITIONS)[number];

/**
 * How DNS workers read and write UDP: `auto` (the default: batched when the addon was built, else
 * dgram), `batched` (recvmmsg/sendmmsg through the addon built at install), `dgram` (Node's).
 */
export type UdpIo = 'auto' | 'batched' | 'dgram';

/**
 * The batched path's sockets: `shared` (the default: one socket on the port, read by every worker,
 * so whichever worker is free answers) or `per-worker` (SO_REUSEPORT: a socket and a buffer per
 * worker, the kernel hashing each client to one; less CPU per query, but a client waits for its
 * worker when that one is busy).
 */
export type UdpSockets = 'shared' | 'per-worker';

export interface DnsSettings {
  /** The first of `dns.listen` (the command line's --listen replaces it). */
  listen: { host: string; port: number };
  /** The rest of `dns.listen`: more addresses answered on, UDP and TCP each. */
  alsoListen: { host: string; port: number }[];
  workers: number;
  maxUdpSize: number;
  ecs: boolean;
  /** Fraction of queries logged (0 = off, 1 = all). */
  queryLogSample: number;
  metrics?: { host: string; port: number };
  tcpIdleMs: number;
  /** A message begun on TCP must arrive whole within this time (no slowloris). */
  tcpMessageMs: number;
  /** Per worker: open TCP connections in all, and from one address (RFC 7766 §6.2.3). */
  tcpMaxConnections: number;
  tcpMaxPerSource: number;
  /**
   * Bytes of kernel receive buffer per UDP socket (SO_RCVBUF; 0: the kernel's default, ~212 KB,
   * about 190 queries). The kernel caps it at net.core.rmem_max.
   */
  udpReceiveBuffer: number;
  /**
   * SO_RCVBUF while the worker is saturated (0, or not below udpReceiveBuffer: never shortened).
   * A flood then queues a few ms of work, not seconds of it, ahead of every other client.
   */
  udpReceiveBufferSaturated: number;
  /** UDP I/O path: `auto` (default: batched when built), the batched addon, or Node's dgram. */
  io: UdpIo;
  /** On the batched path: one socket all workers read (default), or one per worker. */
  udpSockets: UdpSockets;
  /** Upper bound on the ECS scope prefix we hand back, per family. */
  maxScope4: number;
  maxScope6: number;
  /**
   * TTL follows the routing state: a steered answer holding a region that is draining, held in
   * by the guard rail, or changed state within `unstableWindowS`, gets at most `unstableTtl`.
   */
  unstableTtl: number;
  unstableWindowS: number;
  /** Response rate limiting on UDP (undefined: off). See src/dns/rrl.ts. */
  rrl?: RrlSettings;
  /** Memo misses (answers to build or sign) a worker takes per turn of its event loop (0: no limit). */
  missBudget: number;
  /** What a UDP query past the miss budget gets: an empty truncated answer (TC=1), or nothing. */
  overBudget: 'truncate' | 'drop';
  /**
   * The server cookie secret (RFC 7873/9018): from `dns.cookie_secret_env`, else made by the DNS
   * primary at start and shared by its workers.
   */
  cookieSecret?: Uint8Array;
  /** Where automatic SOA serials are kept across restarts (`dns.serial_file`; undefined: in memory). */
  serialFile?: string;
  /** Where zones transferred in (`zones.<name>.primary`) are kept, a master file each, so a restart serves at once. */
  secondaryDir: string;
  /** The identifier sent to queries that ask for it with NSID (RFC 5001; undefined: none). */
  nsid?: Uint8Array;
  /** dnstap query and response log (undefined: off). See src/dns/dnstap.ts. */
  dnstap?: DnstapSettings;
  /** TSIG keys (RFC 8945) zone transfers may be signed with; secrets read at load, never logged. */
  tsigKeys: TsigKey[];
}

/** TSIG algorithms served (RFC 8945: hmac-sha256 at least). */
export const TSIG_ALGORITHMS = ['hmac-sha256', 'hmac-sha384', 'hmac-sha512'] as const;

export interface TsigKey {
  /** Absolute, lower case, no trailing dot (as it is on the wire). */
  name: string;
  algorithm: (typeof TSIG_ALGORITHMS)[number];
  secret: Uint8Array;
}

export interface DnstapSettings {
  /** Each worker writes FILE.wN (N: its worker id). */
  file: string;
  /** The Dnstap identity field (default: the host name). */
  identity?: string;
  /** Frames waiting for the disk beyond this many bytes are dropped (counted), never queued. */
  bufferBytes: number;
}

export type ResponseKind = 'answer' | 'nodata' | 'nxdomain' | 'referral' | 'error';

export interface RrlSettings {
  /** Responses per second per network and kind (0: that kind is not limited). */
  perSecond: Record<ResponseKind, number>;
  /** Seconds' worth of debt a flooding network runs up (and must stay quiet for). */
  windowS: number;
  /** Every slip-th limited response goes out truncated (0: none, 1: all). */
  slip: number;
  ipv4Prefix: number;
  ipv6Prefix: number;
  /** Networks never limited (trusted resolvers, monitoring). */
  exempt: Prefix[];
  /** Budgets kept at most (oldest dropped first). */
  tableSize: number;
}

export interface GeoSettings {
  /** MaxMind GeoIP2/GeoLite2 City or Country database; undefined = embedded default. */
  database?: string;
  /** Re-read the database on this cron schedule (e.g. after a weekly GeoLite2 update). */
  reloadCron?: string;
  /**
   * IP-to-AS data (`embedded:asn` or a `start,end,asn,org` CSV file), set when some service's
   * fence matches by AS (`geo.asn_database`, default `embedded:asn`); undefined: none loaded.
   */
  asnDatabase?: string;
}

/** A change applied at set times (follow-the-sun weights, maintenance windows). */
export interface Schedule {
  name: string;
  cron: string;
  timezone?: string;
  region: string;
  /** What to set: a status and/or a weight, for `forS` seconds (then it expires), or clear. */
  action: { kind: 'set'; status?: RegionStatus; weight?: number; forS?: number; force: boolean } | { kind: 'clear' };
  reason: string;
}

export interface Config {
  dns: DnsSettings;
  geo: GeoSettings;
  regions: Map<string, Region>;
  zones: Zone[];
  services: Service[];
  pops: Pop[];
  /** Shared anycast VIPs by name (announced by several PoPs). */
  anycast: Map<string, AnycastVip>;
  /** Shared state between agents, DNS servers and the control plane; absent = none. */
  control?: ControlSettings;
  /** Present when loaded from a file, for reload. */
  source?: string;
}

export type Check =
  | {
      type: 'http' | 'https';
      port: number;
      path: string;
      method: string;
      expectStatus: number;
      body?: string;
      host?: string;
      timeoutMs: number;
    }
  | { type: 'tcp'; port: number; timeoutMs: number }
  | { type: 'dns'; port: number; name: string; qtype: string; timeoutMs: number }
  | { type: 'exec'; command: string[]; timeoutMs: number };

export interface LbNode {
  name: string;
  address: string;
}

/**
 * A shared anycast VIP (`anycast.<name>`): one address announced by PoPs in several regions. An
 * agent does not withdraw it on health grounds alone when that would leave fewer than
 * `minAnnouncing` PoPs announcing it, or take more than `maxWithdrawnShare` of them out at once:
 * it keeps the path in drained form instead (the BGP guard rail).
 */
export interface AnycastVip {
  name: string;
  address: string;
  minAnnouncing: number;
  maxWithdrawnShare: number;
  /** How long a PoP's withdrawal counts against the share out at once. */
  windowMs: number;
}

export interface Vip {
  /** Host prefix: "198.51.100.10/32" or "2001:db8:10::10/128". */
  prefix: string;
  /** Set for a shared anycast VIP (`address: anycast:NAME`). */
  shared?: AnycastVip;
  nodes: LbNode[];
  checks: Check[];
  minHealthy: number | string;
  intervalMs: number;
  fastIntervalMs: number;
  rise: number;
  fall: number;
  passive?: { url: string; maxErrorRate: number; intervalMs: number };
  /** The LB cluster's load: a URL answering {"load": N} or N, divided by `capacity` (1: full). */
  load?: { url: string; capacity: number; intervalMs: number };
}

export interface DrainSettings {
  durationMs: number;
  communities: string[];
  med?: number;
  prepend: number;
}

export interface BgpSettings {
  asn: number;
  routerId: string;
  /** gobgpd gRPC address (bind it to loopback or a unix socket). */
  api: string;
  /** Start gobgpd under the agent's supervision (false: it is run by something else). */
  manageGobgpd: boolean;
  gobgpdBinary: string;
  /** Where the GoBGP API definitions are (default: gobgp/api in the repository). */
  protoDir?: string;
  listenPort: number;
  /** Where gobgpd listens for BGP (the router connects to it). */
  listenAddresses: string[];
  neighbors: { address: string; asn: number; passive: boolean; holdTime: number }[];
  nextHop?: string;
  nextHop6?: string;
  med?: number;
  communities: string[];
  largeCommunities: string[];
  origin: 'igp' | 'egp' | 'incomplete';
  holdDownMs: number;
  drain: DrainSettings;
  /** What happens to announcements if the agent dies without draining. */
  onAgentDeath: 'withdraw' | 'keep';
  /**
   * With `withdraw`: the agent ticks the watchdog's pipe; silence for this long (a frozen or
   * hung agent) stops gobgpd as its death would.
   */
  agentLivenessMs: number;
  /** Control socket of a BFD-only BIRD beside gobgpd: BFD down = session down at once. */
  bfdSocket?: string;
}

export interface Pop {
  name: string;
  region: string;
  api: { host: string; port: number };
  /** A metrics-only listener (GET /metrics), beside the API. */
  metrics?: { host: string; port: number };
  maintenanceFile?: string;
  bgp: BgpSettings;
  vips: Vip[];
}

/**
 * Events that alerts can carry: region state, guard rail, forced and expiring overrides (sent by
 * `gtm control`, from its feed of the shared state), BGP and BFD sessions lost or back (sent by
 * each PoP's agent).
 */
export const ALERT_EVENTS = [
  'region.state',
  'guardrail.held',
  'bgp.session',
  'bfd.session',
  'override.forced',
  'override.expiring',
] as const satisfies readonly EventName[];
export type AlertEvent = (typeof ALERT_EVENTS)[number];

/** A webhook that receives alerts (`control.alerts`). */
export interface AlertDestination {
  name: string;
  url: string;
  format: 'json' | 'slack' | 'pagerduty';
  events: AlertEvent[];
  /** Environment variable with the secret: a bearer token, or PagerDuty's routing key. */
  secretEnv?: string;
}

/**
 * Outside-in health (`control.vantage`): agents and `gtm probe` processes check every other
 * region's VIPs and report; a region counts as reachable when `quorum` of them reach it.
 */
export interface VantageSettings {
  quorum: number;
  /** Fewer opinions than this: the vantage signal has no say (fail open). */
  minReports: number;
  intervalMs: number;
  rise: number;
  fall: number;
  /** Lease of a vantage point's report: a point that stops reporting stops counting. */
  leaseMs: number;
  check: Check;
  /** Which of a region's VIPs are checked (a region counts as reachable when all of them are). */
  vips: 'all' | 'v4' | 'v6';
}

export interface ControlSettings {
  store: { kind: 'file'; path: string } | EtcdStoreSettings;
  /** Agents' heartbeat lease: a region whose agents stop reporting for this long is out. */
  leaseMs: number;
  heartbeatMs: number;
  /** Guard rail: largest share of regions out of DNS at once without force. */
  maxRegionsOut: number;
  /** Flap damping of regions' health; undefined: off. */
  flapDamping?: FlapDamping;
  /** DNS nodes cut off from the shared store. */
  storeLost: StoreLostRule;
  /** Pushed health signals by name (`regions.X.health` reads them). */
  signals: Map<string, SignalSettings>;
  /** What a region whose agents have never reported counts as (no evidence yet): up by default. */
  unknown: 'up' | 'down';
  schedules: Schedule[];
  alerts: AlertDestination[];
  vantage?: VantageSettings;
  /** Alert on overrides that expire within this time (`override.expiring`). */
  expiryWarningMs: number;
  /** Where alerts that could not be delivered are appended (JSON lines). */
  alertDeadLetter: string;
  api: {
    listen: { host: string; port: number };
    /** Bearer tokens with scopes (src/auth); the name is recorded in the audit log as "who". */
    tokens: ApiToken[];
    /** Reads (GET /api/...) need a token with the read scope. */
    readRequiresToken: boolean;
    auditLog: string;
  };
}

/** `control.store` with etcd: endpoints, key prefix, and how this process proves who it is. */
export interface EtcdStoreSettings {
  kind: 'etcd';
  endpoints: string[];
  prefix: string;
  /** TLS to etcd: the CA that signed etcd's certificate; a client certificate when etcd asks for one. */
  tls?: { ca: string; cert?: string; key?: string };
  /**
   * etcd user and password (the password always from the environment). `userEnv` names the
   * user per process (each agent and probe its own, for etcd's RBAC: `gtm store rbac`).
   */
  auth?: { user?: string; userEnv?: string; passwordEnv: string };
}
