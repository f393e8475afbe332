// The contract between processes: what agents, DNS servers and the control plane write to
// and read from the shared store. Every value crossing a process boundary is typed here,
// so renaming a state is a compile error, not a silent mismatch in another process.

/** How DNS treats a region. */
export const REGION_STATUSES = ['up', 'down', 'draining'] as const;
export type RegionStatus = (typeof REGION_STATUSES)[number];

/** Per-VIP state of a PoP agent (see src/agent/vip-state.ts for the transitions). */
export const VIP_STATES = ['INIT', 'UP', 'DRAINING', 'DOWN', 'DISABLED'] as const;
export type VipState = (typeof VIP_STATES)[number];

/** Which signal decided a region's status. */
export const REGION_SOURCES = ['override', 'health', 'vantage', 'config', 'calculated'] as const;
export type RegionSource = (typeof REGION_SOURCES)[number];

/** Store keys. Values under each are the types below. */
export const KEYS = {
  agent: (pop: string) => `agents/${pop}`,
  agents: 'agents/',
  /**
   * A PoP's agent has reported at least once (`pops/<pop>`, never leased): a PoP with no live
   * heartbeat is down when this exists, unknown (never seen) when it does not.
   */
  pop: (pop: string) => `pops/${pop}`,
  pops: 'pops/',
  /** An operator's status for a region (drain, force down/up): the `drain` scope's part. */
  regionOverride: (region: string) => `overrides/regions/${region}`,
  regionOverrides: 'overrides/regions/',
  /** An operator's weight for a region: the `weight` scope's part, owned apart from the status. */
  regionWeight: (region: string) => `overrides/region-weights/${region}`,
  regionWeights: 'overrides/region-weights/',
  serviceWeight: (service: string, region: string) => `overrides/weights/${service}/${region}`,
  serviceWeights: 'overrides/weights/',
  /** Read (never written) by DNS nodes every second: an answer, even "no such key", is contact. */
  contact: 'contact',
  /** Idempotency records of operator writes: a retry with the same key is not applied twice. */
  idempotency: (key: string) => `idempotency/${key}`,
  idempotencyRecords: 'idempotency/',
  /** Audit records written by agents (the control plane keeps its own log file and reads these too). */
  audit: 'audit/',
  /** An agent's audit record, under its PoP (so etcd's RBAC can give each PoP its own range). */
  auditRecord: (pop: string, at: string, who: string, n: number) => `audit/${pop}/${at}-${who}-${n}`,
  /** What one vantage point (an agent, or a `gtm probe`) sees of the regions, leased. */
  vantage: (point: string) => `vantage/${point}`,
  vantages: 'vantage/',
  /** A pushed health signal (`control.signals`): set through the API or an Alertmanager webhook. */
  signal: (name: string) => `signals/${name}`,
  signals: 'signals/',
  /** Withdrawals of a shared anycast VIP within the guard rail's window (one key, written atomically). */
  anycastClaims: (name: string) => `anycast/${name}/withdrawals`,
} as const;

/** One audit record: who did what to which target, why, and when (ISO time). */
export interface AuditEntry {
  at: string;
  who: string;
  action: string;
  target: string;
  why: string;
  change: unknown;
  /**
   * Where the change stands. Each write gets two records: `pending`, synced before the store is
   * touched (a change never goes live unaudited: if that record cannot be written, nothing is),
   * then what became of it once the store answered: `applied`, `not-applied`, or `unknown` (the
   * store did not answer in time and the write may still land), followed by `applied-late` or
   * `not-applied` once the key has been read back. `refused`: the guard rail said no.
   */
  outcome?: AuditOutcome;
}

export const AUDIT_OUTCOMES = ['pending', 'applied', 'refused', 'unknown', 'applied-late', 'not-applied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** How long agents' audit records stay in the shared store (the control plane's own log keeps its records). */
export const AUDIT_RECORD_LEASE_MS = 30 * 24 * 3600 * 1000;

/** An agent's heartbeat (`agents/<pop>`, written with a lease). */
export interface AgentReport {
  pop: string;
  region: string;
  serving: boolean;
  sessionUp: boolean;
  /** `held`: a shared VIP kept announced (drained) by the BGP guard rail although unhealthy. */
  vips: { prefix: string; state: VipState; held?: boolean }[];
  /** Each BGP neighbor's session state as gobgpd has it, and its BFD state where BFD is watched. */
  peers?: { address: string; bgp: string; bfd?: string }[];
  /**
   * While a VIP is not UP or the PoP is not serving: the first sign of that trouble the agent saw
   * (the first failed probe of the run that took a node down, or when it stopped serving). DNS
   * measures from it how long a failure took to move answers (gtm_failover_seconds).
   */
  troubleSince?: number;
  /** The PoP's LB load as a share of its capacity (1: full), when the PoP measures it (`vips[].load`). */
  load?: number;
  at: number;
}

/** The address family of a VIP's host prefix ("198.51.100.10/32", "2001:db8::10/128"). */
export function vipFamily(prefix: string): 'ipv4' | 'ipv6' {
  return prefix.includes(':') ? 'ipv6' : 'ipv4';
}

/** An address family as people write it. */
export const FAMILY_NAME = { ipv4: 'IPv4', ipv6: 'IPv6' } as const;

/** PoPs that withdrew a shared anycast VIP on health grounds, with when each claim expires. */
export interface AnycastClaims {
  pops: Record<string, number>;
}

/** A PoP whose agent has reported (`pops/<pop>`): written once when its first heartbeat lands. */
export interface PopPresence {
  pop: string;
  region: string;
  since: number;
}

/**
 * A pushed health signal (`signals/<name>`): up or down until `expiresAt`, then unknown (never
 * its last value). Who set it and why, as for an override.
 */
export interface HealthSignal {
  name: string;
  up: boolean;
  reason: string;
  who: string;
  at: number;
  expiresAt: number;
}

/**
 * A vantage point's view of the regions from where it stands (`vantage/<point>`, leased): each
 * target's reachability after rise/fall over its own probes of the region's VIPs.
 */
export interface VantageReport {
  point: string;
  /** The region an agent's PoP is in: it does not judge its own region from inside. */
  region?: string;
  at: number;
  targets: { region: string; reachable: boolean; detail: string }[];
}

/** What the vantage points together say about one region. */
export const VANTAGE_VERDICTS = ['reachable', 'unreachable', 'no-opinion'] as const;
export type VantageVerdict = (typeof VANTAGE_VERDICTS)[number];

export interface VantageView {
  verdict: VantageVerdict;
  /** Vantage points that reach the region, and those that do not. */
  reachable: string[];
  unreachable: string[];
  /** Points ignored because they reach none of their targets (their own side is cut off). */
  blind: string[];
  quorum: number;
  minReports: number;
}

/**
 * An operator's status for a region (`overrides/regions/<region>`). Its weight is a part of its
 * own (`RegionWeightOverride`): each is set, extended and removed only by a token whose scope
 * covers it (`drain` for the status, `weight` for the weight), with its own reason and author.
 */
export interface RegionOverride {
  status: RegionStatus;
  reason: string;
  who: string;
  at: number;
  expiresAt?: number;
  /** Forced changes pass the guard rail. */
  force?: boolean;
}

/** An operator's weight for a region (`overrides/region-weights/<region>`). */
export interface RegionWeightOverride {
  weight: number;
  reason: string;
  who: string;
  at: number;
  expiresAt?: number;
}

/** An operator's weight for one steered name in one region (`overrides/weights/<service>/<region>`). */
export interface ServiceWeightOverride {
  weight: number;
  reason: string;
  who: string;
  at: number;
  expiresAt?: number;
}

/** A region as DNS hands it out: the merged result of config, health and operators. */
export interface RegionView {
  status: RegionStatus;
  /** Weight override; undefined means "use the configured weight". */
  weight?: number;
  /** For people (logs, API, console); decisions read `source` and `held`. */
  reason?: string;
  since: number;
  /** Which signal decided the status (absent only for views set directly, as in tests). */
  source?: RegionSource;
  /** Kept in DNS by the guard rail although its health says out. */
  held?: boolean;
  /** The vantage points' verdict, when vantage probing is configured. */
  vantage?: VantageView;
  /** When the status last changed from one merged status to another (a flap; DNS shortens TTLs after one). */
  flappedAt?: number;
  /** The region's LB load as a share of capacity (the mean over its PoPs that report one). */
  load?: number;
  /** The share of this region's answers DNS gives the next region instead (`regions.X.capacity`). */
  shed?: number;
  /** When `shed` was last computed (it moves at a bounded rate from there). */
  shedAt?: number;
  /** Flap damping (`control.flap_damping`): the penalty, the undamped status, and whether held. */
  damping?: { penalty: number; at: number; raw: RegionStatus; heldAs?: RegionStatus };
  /** Set while this process's shared store has been silent past `control.store_lost.max_stale_s`. */
  storeLost?: StoreLost;
  /** No evidence yet (no agent of the region ever reported): the status is `control.unknown`'s. */
  unknown?: boolean;
  /**
   * An up region out for one address family alone (`regions.X.min_children`), with why: DNS
   * answers A (or AAAA) queries from the next region meanwhile.
   */
  familyOut?: { ipv4?: string; ipv6?: string };
  /**
   * Steered names (service keys) that skip this region although it is up: their pool's own health
   * (`services.X.pools[].health`) does not hold. By key, why.
   */
  poolsOut?: Record<string, string>;
}

/** What a DNS node does once the shared store has been silent too long (`control.store_lost.then`). */
export const STORE_LOST_FALLBACKS = ['configured', 'servfail'] as const;
export type StoreLostFallback = (typeof STORE_LOST_FALLBACKS)[number];

/** A shared store silent since `since` (its last answer), and the fallback applied meanwhile. */
export interface StoreLost {
  since: number;
  fallback: StoreLostFallback;
}

/** Whether something with an optional expiry (an override, a weight, a leased entry) still holds at `now`. */
export function isLive(x: { expiresAt?: number } | undefined, now: number): boolean {
  return x !== undefined && (x.expiresAt === undefined || x.expiresAt > now);
}

/** Where a drill's timeline event comes from: one row each on the console's chart. */
export const DRILL_LANES = ['drill', 'router', 'events', 'dns', 'clients', 'alerts'] as const;
export type DrillLane = (typeof DRILL_LANES)[number];

/** One event of a drill, `ms` after the failure was injected; `ok` for a client's outcome. */
export interface DrillEvent {
  ms: number;
  what: string;
  lane: DrillLane;
  ok?: boolean;
}

/** What a drill run sends the control plane (`POST /api/v1/drills`), for the console's chart. */
export interface DrillRecord {
  name: string;
  description: string;
  passed: boolean;
  /** When the failure was injected (Unix ms): the timeline's zero. */
  startedAt: number;
  timeline: DrillEvent[];
  expectations: { text: string; ok: boolean; detail: string }[];
  /** A failover drill's phases (ms from the fault). */
  phases?: FailoverPhases;
}

/**
 * A failover's phases, in ms from the fault (absent: the failover did not go through it):
 * detect, the agent's VIP state left UP; decide, the DNS server took the region out; dns, the
 * affected client was first answered another region; bgp, the router saw the path withdrawn or
 * de-preferred; clients, the affected client's first fetch served by another region.
 */
export const FAILOVER_PHASES = ['detect', 'decide', 'dns', 'bgp', 'clients'] as const;
export type FailoverPhases = Partial<Record<(typeof FAILOVER_PHASES)[number], number>>;

/** Default guard rail: at most half the regions out of DNS at once without force. */
export const DEFAULT_MAX_REGIONS_OUT = 0.5;

/** Regions that went out on health within this time are held again when the guard rail trips. */
export const GUARD_RAIL_RECENT_MS = 10_000;
