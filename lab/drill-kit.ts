// Drills: the shapes of a drill and its result, and the checks and helpers the scenarios share.
import type { DrillEvent } from '../src/contract/index.js';
import type { Readable } from 'node:stream';
import { type ClientFetch, type Lab, type LabPop } from './lab.js';
import { fetchIn } from './netns.js';
import { signalProcesses, startLbNode } from './procs.js';
import type { FailoverPhases } from './failover-summary.js';

/** One event of a drill's timeline, in the form the control plane records (the console's chart). */
export type TimelineEvent = DrillEvent;

export interface DrillResult {
  name: string;
  description: string;
  passed: boolean;
  /** When the failure was injected (Unix ms): the timeline's zero. */
  startedAt: number;
  timeline: TimelineEvent[];
  /** Each with the samples that decided it (printed when it fails). */
  expectations: { text: string; ok: boolean; detail: string; evidence?: string[] }[];
  /** Fetches each client made while the failure lasted; the times are when failing fetches ended. */
  clients: Record<string, { fetches: number; errors: number; firstErrorMs?: number; lastErrorMs?: number }>;
  /** Failure drills: when each layer had moved (ms from the fault). */
  phases?: FailoverPhases;
}

export interface Fetch {
  client: string;
  t: number;
  answer: string | null;
  ok: boolean;
  servedBy?: string;
  /** For the timeline only ("ok served by eu-west", "error timeout"); decisions read the fields. */
  outcome: string;
}

export interface Observed {
  t0: number;
  /**
   * The shared store is reached over the lab's network (etcd in the compose lab): a PoP cut off
   * from its router cannot report, and DNS learns of it from the vantage points or the lease.
   * With a state file on one host (the namespace lab) the agent reports through the file.
   */
  storeOverNetwork: boolean;
  /** Recovery drills: when the precondition (path withdrawn) was reached. */
  downAt?: number;
  withdrawnAt?: number;
  deprefAt?: number;
  backAt?: number;
  restoreAt?: number;
  /** Every fetch of each client's user loop (resolve, then fetch). */
  fetches: Fetch[];
  /** What the DNS server answered each client, polled on its own (not held by a hung fetch). */
  answerEvents: { client: string; t: number; answer: string | null }[];
  logEvents: { t: number; what: string }[];
  /** Region state changes the DNS server logged (typed `region.state` events), from t0. */
  regionChanges: { t: number; region: string; to: string; source?: string }[];
  /** VIP state changes the agents logged, from t0. */
  vipChanges: { t: number; pop: string; vip: string; to: string }[];
  /** The BGP guard rail holding or releasing a shared VIP (typed `bgp.guardrail` events), from t0. */
  guardrail: { t: number; pop: string; held: boolean }[];
  /** How many paths the router holds for the drill's prefix, whenever that changed (from t0). */
  paths: { t: number; count: number }[];
  /** Steps a drill's injection took on its own after t0 (e.g. one region's checks healing), by name. */
  marks: { t: number; what: string }[];
  /** The DNS guard rail holding regions in (typed `guardrail.held` events), from t0. */
  dnsGuard: { t: number; held: string[] }[];
  /** The DNS server losing the shared store and finding it again (typed `store.*` events), from t0. */
  storeEvents: { t: number; kind: 'lost' | 'back'; fallback?: string }[];
  /** Alerts the lab's webhook received, from t0. */
  alerts: { t: number; event: string; region?: string; to?: string; source?: string; summary: string }[];
}

export interface Drill {
  description: string;
  /**
   * Injects the failure; returns how to undo it. A step of its own is `mark`ed on the timeline
   * (now, or at the time the product itself gives for it). A drill that must look something up
   * first (a PID, an interface: a process spawn, slow on a busy machine) calls `faultNow` right
   * before the fault itself, so t0 is the fault and not the lookup.
   */
  inject(
    lab: Lab,
    pop: LabPop,
    mark: (what: string, at?: number) => void,
    faultNow: () => void,
  ): Promise<() => Promise<void>>;
  /** Waits until the drill has shown what it should (or times out). */
  settle(o: Observed, pop: LabPop): boolean;
  /** Restore first, then observe the return (recovery drills). */
  restoreEarly?: boolean;
  expect(o: Observed, pop: LabPop, r: DrillResult): void;
  timeoutMs: number;
  /** Users of the shared anycast VIP (fetched without DNS), and the router watched for its prefix. */
  anycast?: boolean;
  /** Not a failover (overload, say): no failover phases. */
  noFailover?: boolean;
  /**
   * Runs only in a lab whose shared store is etcd (`gtm lab up --store etcd`, or the compose lab),
   * or only in the namespace lab with etcd, which runs a second DNS node.
   */
  needs?: 'etcd' | 'second-dns';
}

export const AFFECTED = 'us'; // the New York client: nearest to us-east, the PoP every drill breaks

export const agentStatus = (pop: LabPop) =>
  JSON.parse(fetchIn(pop.ns, 'http://127.0.0.1:9180/status').body) as { bgp: { gobgpdPid: number } };

/** One expectation; `evidence` lists the samples it was judged on (a failure prints them). */
export function expectation(r: DrillResult, text: string, ok: boolean, detail: string, evidence?: string[]): void {
  r.expectations.push({ text, ok, detail, ...(evidence?.length ? { evidence } : {}) });
}

export const rel = (o: Observed, t?: number) => (t === undefined ? undefined : t - o.t0);

/**
 * A stretch of the drill's own merged timeline, bounded by events rather than by guesses of
 * time. Expectations are judged on the window their words name: "after the withdrawal" is from
 * the withdrawal to the repair (or the end of the client samples, whichever is first), so what
 * clients rightly see once the failure is repaired never counts against it.
 */
export interface Window {
  from: number;
  to: number;
}

/** The time of the last sample any client reported (fetch or answer). */
export function samplesEnd(o: Observed): number {
  let end = o.t0;
  for (const f of o.fetches) end = Math.max(end, f.t);
  for (const a of o.answerEvents) end = Math.max(end, a.t);
  return end;
}

/** From an event until the failure is repaired or the samples end, whichever is first. */
export function afterEvent(o: Observed, t: number | undefined): Window | undefined {
  if (t === undefined) return undefined;
  return { from: t, to: Math.min(o.restoreAt ?? Infinity, samplesEnd(o)) };
}

/** While the failure lasts: from the injection (recovery drills: the repair) to the end of observation. */
export const whileBroken = (o: Observed): Window => afterEvent(o, o.t0) as Window;

/** After the repair, to the end of the samples (undefined: never repaired). */
export const afterRepair = (o: Observed): Window | undefined =>
  o.restoreAt === undefined ? undefined : { from: o.restoreAt, to: Math.max(o.restoreAt, samplesEnd(o)) };

export const inWindow = (w: Window, t: number) => t >= w.from && t <= w.to;

/** Fetches in a window, of one client or of all. */
export const fetchesIn = (o: Observed, w: Window, client?: string) =>
  o.fetches.filter((f) => inWindow(w, f.t) && (client === undefined || f.client === client));

/** A sample as evidence: when (relative to t0), who, what happened. */
export const sampleLine = (o: Observed, f: Fetch) =>
  `+${f.t - o.t0} ms  ${f.client}: ${f.outcome}${f.answer ? ` (DNS answer ${f.answer})` : ''}`;

/** The bounds of a window, as a detail. */
export const windowText = (o: Observed, w: Window) => `from +${w.from - o.t0} ms to +${w.to - o.t0} ms`;

/** "It happened within LIMIT ms of the injection" (ms undefined: it never happened). */
export function within(r: DrillResult, text: string, ms: number | undefined, limit: number): void {
  expectation(r, text, ms !== undefined && ms < limit, ms === undefined ? 'never' : `+${ms} ms`);
}

export function errorsStopWithin(r: DrillResult, limit: number, o?: Observed): void {
  const last = r.clients[AFFECTED]?.lastErrorMs;
  const late = o ? fetchesIn(o, whileBroken(o), AFFECTED).filter((f) => !f.ok && f.t - o.t0 >= limit) : [];
  expectation(
    r,
    `client errors stop within ${limit / 1000} s`,
    last === undefined || last < limit,
    last === undefined ? 'no errors' : `last error at +${last} ms`,
    o ? late.map((f) => sampleLine(o, f)) : undefined,
  );
}

/**
 * What every planned drain must show, whichever way it was asked for: the path de-preferred
 * before it is withdrawn, DNS moving clients before the withdrawal, and no client error.
 */
export function drainExpectations(o: Observed, pop: LabPop, r: DrillResult): void {
  const moved = rel(o, firstAnswerChange(o, pop)?.t);
  const d = rel(o, o.deprefAt);
  const w = rel(o, o.withdrawnAt);
  expectation(
    r,
    'path de-preferred (GRACEFUL_SHUTDOWN, local-pref 0) before it is withdrawn',
    d !== undefined && (w === undefined || d <= w),
    `de-preferred +${d ?? 'never'} ms, withdrawn +${w ?? 'never'} ms`,
  );
  expectation(
    r,
    'DNS moves clients before the path is withdrawn',
    moved !== undefined && w !== undefined && moved < w,
    `DNS +${moved ?? 'never'} ms, withdrawn +${w ?? 'never'} ms`,
  );
  zeroClientErrors(o, r);
}

/** No client's fetch failed while the fault lasted (the failed ones are the evidence). */
export function zeroClientErrors(o: Observed, r: DrillResult, why = ''): void {
  expectation(
    r,
    `zero client errors${why}`,
    Object.values(r.clients).every((c) => c.errors === 0),
    Object.entries(r.clients)
      .map(([k, c]) => `${k} ${c.errors}/${c.fetches}`)
      .join(', '),
    fetchesIn(o, whileBroken(o))
      .filter((f) => !f.ok)
      .map((f) => sampleLine(o, f)),
  );
}

/** DNS moves the New York client off a PoP cut from its router: how soon depends on who can tell. */
export function dnsMovesWhenCut(o: Observed, pop: LabPop, r: DrillResult): void {
  const moved = rel(o, firstAnswerChange(o, pop)?.t);
  if (!o.storeOverNetwork)
    within(r, 'DNS moves the New York client within 1 s (the agent sees BFD down and reports it)', moved, 1000);
  else
    within(
      r,
      'DNS moves the New York client within 2 s (the PoP cannot reach etcd across the cut: the vantage quorum or its 1.5 s lease decides)',
      moved,
      2000,
    );
}

/**
 * What a dead cluster must show at both layers: the path withdrawn within 1 s, the New York client
 * answered another region within 2 s, its errors over within 2 s (`why` says who decided).
 */
export function clusterDownExpectations(o: Observed, pop: LabPop, r: DrillResult, why = { bgp: '', dns: '' }): void {
  within(r, `path withdrawn at the router within 1 s${why.bgp}`, rel(o, o.withdrawnAt), 1000);
  within(
    r,
    `the New York client is answered another region within 2 s${why.dns}`,
    rel(o, firstAnswerChange(o, pop)?.t),
    2000,
  );
  errorsStopWithin(r, 2000, o);
}

/** Kills both LB nodes of the PoP; returns how to start them again. */
export function killCluster(lab: Lab, pop: LabPop): () => Promise<void> {
  signalProcesses(lab, pop, [`${pop.name}-lb1`, `${pop.name}-lb2`], 'SIGKILL');
  return async () => {
    startLbNode(lab, pop, 1);
    startLbNode(lab, pop, 2);
  };
}
/**
 * The first answer to the New York client after `after` (and before `until`) that either of its
 * loops saw (the watcher polls every 50 ms).
 */
export const firstAnswer = (o: Observed, after: number, ok: (answer: string) => boolean, until = Infinity) =>
  [...o.answerEvents, ...o.fetches]
    .filter((e) => e.client === AFFECTED && e.t >= after && e.t <= until && e.answer !== null && ok(e.answer))
    .sort((a, b) => a.t - b.t)[0];
/** DNS moved the New York client away from the broken PoP, while the failure lasted. */
export const firstAnswerChange = (o: Observed, pop: LabPop) =>
  firstAnswer(o, o.t0, (a) => a !== pop.vip, whileBroken(o).to);
/** The New York user's latest fetch. */
export const lastFetch = (o: Observed) => o.fetches.filter((e) => e.client === AFFECTED).at(-1);
/** ... and it was served by another region, after the injection. */
export const servedElsewhere = (o: Observed, pop: LabPop) => {
  const last = lastFetch(o);
  return !!last && last.t >= o.t0 && last.ok && last.answer !== pop.vip;
};
/** Fetches where a client's outcome changed (what the timeline shows). */
export function outcomeChanges(fetches: Fetch[]): Fetch[] {
  const last = new Map<string, string>();
  return fetches.filter((f) => {
    const key = `${f.answer} ${f.outcome}`;
    const changed = last.get(f.client) !== key;
    last.set(f.client, key);
    return changed;
  });
}

/**
 * When each layer had moved away from the broken PoP, from the typed observations (ms from t0).
 * DNS and clients count only when the New York client was answered and served by the PoP before
 * the fault (anycast users have no DNS phase). Clients moved: the first fetch another PoP served.
 */
export function failoverPhases(o: Observed, pop: LabPop, anycast = false): FailoverPhases {
  /** The earliest of `ts` at or after the fault, in ms from it. */
  const first = (ts: (number | undefined)[]) => {
    const at = ts.filter((t): t is number => t !== undefined && t >= o.t0);
    return at.length ? Math.min(...at) - o.t0 : undefined;
  };
  const before = [...o.answerEvents, ...o.fetches]
    .filter((e) => e.client === AFFECTED && e.t < o.t0 && e.answer !== null)
    .sort((a, b) => a.t - b.t)
    .at(-1);
  const moved = o.fetches.find(
    (f) => f.client === AFFECTED && f.t >= o.t0 && f.ok && f.servedBy !== undefined && f.servedBy !== pop.name,
  );
  const servedBefore =
    o.fetches.filter((f) => f.client === AFFECTED && f.t < o.t0 && f.ok).at(-1)?.servedBy === pop.name;
  const phases: FailoverPhases = {
    detect: first(o.vipChanges.filter((c) => c.pop === pop.name && c.to !== 'UP').map((c) => c.t)),
    decide: first(o.regionChanges.filter((c) => c.region === pop.region && c.to !== 'up').map((c) => c.t)),
    dns: anycast || before?.answer !== pop.vip ? undefined : first([firstAnswerChange(o, pop)?.t]),
    bgp: first([o.withdrawnAt, o.deprefAt]),
    clients: servedBefore ? first([moved?.t]) : undefined,
  };
  for (const k of Object.keys(phases) as (keyof FailoverPhases)[]) if (phases[k] === undefined) delete phases[k];
  return phases;
}

/** What a lab client (lab/client.ts) prints, one JSON line each: its fetches and answer changes. */
export type ClientEvent = ClientFetch | { event: 'answer'; t: number; answer: string | null };

/** Hands each event a lab client prints to `each`, as its lines arrive (other lines are skipped). */
export function onClientEvents(out: Readable | null | undefined, each: (e: ClientEvent) => void): void {
  let buf = '';
  out?.on('data', (d) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let e: ClientEvent | undefined;
      try {
        e = JSON.parse(line) as ClientEvent;
      } catch {
        continue; // not a line of ours
      }
      if (e.event === 'fetch' || e.event === 'answer') each(e);
    }
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `ok` every `everyMs` until it holds or `ms` pass; whether it held. */
export async function until(ok: () => boolean | Promise<boolean>, ms: number, everyMs = 100): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await ok()) return true;
    if (Date.now() > end) return false;
    await sleep(everyMs);
  }
}

/** When the drill marked the first step whose text starts with `what`, from t0. */
export const markAt = (o: Observed, what: string) => o.marks.find((m) => m.what.startsWith(what) && m.t >= o.t0)?.t;
