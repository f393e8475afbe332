// Drills: break the running lab on purpose while clients keep resolving and fetching,
// then print what happened when, and whether it met the stated expectations.
// Timeline sources: the router's control socket (polled), the agents' and DNS server's
// own JSON logs (timestamped state changes), and the clients' fetches and DNS answers.
import { type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BirdClient } from './bird.js';
import { DNS_IP, PREFIX, pidOf, startAgent, startLbNode, type Lab, type LabPop } from './lab.js';
import { fetchIn, ip, killPid, spawnIn } from './netns.js';
import { packageRoot } from '../src/runtime/index.js';
import { isEvent } from '../src/state/events.js';

export interface TimelineEvent {
  ms: number;
  what: string;
}

export interface DrillResult {
  name: string;
  description: string;
  passed: boolean;
  timeline: TimelineEvent[];
  expectations: { text: string; ok: boolean; detail: string }[];
  /** Fetches each client made while the failure lasted; the times are when failing fetches ended. */
  clients: Record<string, { fetches: number; errors: number; firstErrorMs?: number; lastErrorMs?: number }>;
}

interface Fetch {
  client: string;
  t: number;
  answer: string | null;
  outcome: string;
}

interface Observed {
  t0: number;
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
}

interface Drill {
  description: string;
  /** Injects the failure; returns how to undo it. */
  inject(lab: Lab, pop: LabPop): Promise<() => Promise<void>>;
  /** Waits until the drill has shown what it should (or times out). */
  settle(o: Observed, pop: LabPop): boolean;
  /** Restore first, then observe the return (recovery drills). */
  restoreEarly?: boolean;
  expect(o: Observed, pop: LabPop, r: DrillResult): void;
  timeoutMs: number;
}

const AFFECTED = 'us'; // the New York client: nearest to us-east, the PoP every drill breaks

const agentStatus = (pop: LabPop) => JSON.parse(fetchIn(pop.ns, 'http://127.0.0.1:9180/status').body) as { bgp: { gobgpdPid: number } };

function expectation(r: DrillResult, text: string, ok: boolean, detail: string): void {
  r.expectations.push({ text, ok, detail });
}

const rel = (o: Observed, t?: number) => (t === undefined ? undefined : t - o.t0);

/** "It happened within LIMIT ms of the injection" (ms undefined: it never happened). */
function within(r: DrillResult, text: string, ms: number | undefined, limit: number): void {
  expectation(r, text, ms !== undefined && ms < limit, ms === undefined ? 'never' : `+${ms} ms`);
}

function errorsStopWithin(r: DrillResult, limit: number): void {
  const last = r.clients[AFFECTED]?.lastErrorMs;
  expectation(r, `client errors stop within ${limit / 1000} s`, last === undefined || last < limit, last === undefined ? 'no errors' : `last error at +${last} ms`);
}

/** Kills both LB nodes of the PoP; returns how to start them again. */
function killCluster(lab: Lab, pop: LabPop): () => Promise<void> {
  killPid(pidOf(lab, `${pop.name}-lb1`), 'SIGKILL');
  killPid(pidOf(lab, `${pop.name}-lb2`), 'SIGKILL');
  return async () => {
    startLbNode(lab, pop, 1);
    startLbNode(lab, pop, 2);
  };
}
/** The first answer to the New York client after `after` that either of its loops saw (the watcher polls every 50 ms). */
const firstAnswer = (o: Observed, after: number, ok: (answer: string) => boolean) =>
  [...o.answerEvents, ...o.fetches].filter((e) => e.client === AFFECTED && e.t >= after && e.answer !== null && ok(e.answer)).sort((a, b) => a.t - b.t)[0];
const firstAnswerChange = (o: Observed, pop: LabPop) => firstAnswer(o, o.t0, (a) => a !== pop.vip);
/** The New York user's latest fetch. */
const lastFetch = (o: Observed) => o.fetches.filter((e) => e.client === AFFECTED).at(-1);
/** ... and it was served by another region, after the injection. */
const servedElsewhere = (o: Observed, pop: LabPop) => {
  const last = lastFetch(o);
  return !!last && last.t >= o.t0 && last.outcome.startsWith('ok') && last.answer !== pop.vip;
};
/** Fetches where a client's outcome changed (what the timeline shows). */
function outcomeChanges(fetches: Fetch[]): Fetch[] {
  const last = new Map<string, string>();
  return fetches.filter((f) => {
    const key = `${f.answer} ${f.outcome}`;
    const changed = last.get(f.client) !== key;
    last.set(f.client, key);
    return changed;
  });
}

const DRILLS: Record<string, Drill> = {
  'lb-node-down': {
    description: 'one LB node of us-east dies; the cluster still serves',
    timeoutMs: 3000,
    async inject(lab, pop) {
      killPid(pidOf(lab, `${pop.name}-lb1`), 'SIGKILL');
      return async () => void startLbNode(lab, pop, 1);
    },
    settle: () => false,
    expect(o, pop, r) {
      expectation(r, 'path stays announced', o.withdrawnAt === undefined, o.withdrawnAt ? `withdrawn at +${rel(o, o.withdrawnAt)} ms` : 'never withdrawn');
      expectation(r, 'DNS answers unchanged', !firstAnswerChange(o, pop), firstAnswerChange(o, pop) ? 'answer changed' : 'unchanged');
      expectation(r, 'zero client errors', r.clients[AFFECTED]?.errors === 0, `${r.clients[AFFECTED]?.errors} of ${r.clients[AFFECTED]?.fetches} fetches failed`);
    },
  },
  'cluster-down': {
    description: "us-east's whole LB cluster dies",
    timeoutMs: 8000,
    async inject(lab, pop) {
      return killCluster(lab, pop);
    },
    settle: (o, pop) => o.withdrawnAt !== undefined && servedElsewhere(o, pop),
    expect(o, pop, r) {
      within(r, 'path withdrawn at the router within 1 s', rel(o, o.withdrawnAt), 1000);
      within(r, 'the New York client is answered another region within 2 s', rel(o, firstAnswerChange(o, pop)?.t), 2000);
      errorsStopWithin(r, 2000);
      expectation(r, 'clients elsewhere unaffected', (r.clients.gb?.errors ?? 0) + (r.clients.sg?.errors ?? 0) === 0, `gb ${r.clients.gb?.errors}, sg ${r.clients.sg?.errors}`);
    },
  },
  'gobgpd-killed': {
    description: "us-east's gobgpd is killed; the agent restarts it and re-announces",
    timeoutMs: 10000,
    async inject(_lab, pop) {
      killPid(agentStatus(pop).bgp.gobgpdPid, 'SIGKILL');
      return async () => undefined;
    },
    settle: (o, pop) => o.backAt !== undefined && firstAnswer(o, o.backAt, (a) => a === pop.vip) !== undefined,
    expect(o, pop, r) {
      within(r, 'path withdrawn within 1 s (TCP FIN)', rel(o, o.withdrawnAt), 1000);
      within(r, 'DNS stops answering us-east within 1 s (no session)', rel(o, firstAnswerChange(o, pop)?.t), 1000);
      const b = rel(o, o.backAt);
      expectation(r, 're-announced within 10 s', b !== undefined, b === undefined ? 'never' : `+${b} ms`);
      const home = firstAnswer(o, o.backAt ?? Infinity, (a) => a === pop.vip);
      const after = home && o.backAt ? home.t - o.backAt : undefined;
      expectation(r, 'DNS returns the New York client within 2 s of the re-announcement', after !== undefined && after < 2000, after === undefined ? 'never' : `${after} ms after`);
    },
  },
  'gobgpd-frozen': {
    description: "us-east's gobgpd hangs (SIGSTOP): the data plane works until the router's hold time runs out",
    timeoutMs: 14000,
    async inject(_lab, pop) {
      const pid = agentStatus(pop).bgp.gobgpdPid;
      killPid(pid, 'SIGSTOP');
      return async () => killPid(pid, 'SIGCONT');
    },
    settle: (o, pop) => o.withdrawnAt !== undefined && servedElsewhere(o, pop),
    expect(o, pop, r) {
      const w = rel(o, o.withdrawnAt);
      // Keepalives every 3 s, hold time 9 s: the router gives up 6 to 9 s after the freeze.
      expectation(r, 'path kept while the PoP still forwards, withdrawn at the hold time (6-10 s)', w !== undefined && w >= 5000 && w < 10_000, w === undefined ? 'never' : `+${w} ms`);
      const moved = firstAnswerChange(o, pop)?.t;
      const lag = moved !== undefined && o.withdrawnAt !== undefined ? moved - o.withdrawnAt : undefined;
      expectation(r, 'DNS moves within 1 s of the withdrawal (the agent sees BFD go down with the session)', lag !== undefined && lag < 1000, lag === undefined ? 'never' : `${lag} ms after`);
      const first = r.clients[AFFECTED]?.firstErrorMs;
      expectation(r, 'no client error before the withdrawal', first === undefined || (w !== undefined && first >= w), first === undefined ? 'no errors' : `first error at +${first} ms`);
      const last = r.clients[AFFECTED]?.lastErrorMs;
      expectation(r, 'client errors stop within 2 s of the withdrawal', last === undefined || (w !== undefined && last - w < 2000), last === undefined ? 'no errors' : `last error at +${last} ms`);
    },
  },
  'agent-killed': {
    description: "us-east's agent is SIGKILLed (policy: withdraw)",
    timeoutMs: 8000,
    async inject(lab, pop) {
      killPid(pidOf(lab, `${pop.name}-agent`), 'SIGKILL');
      return async () => void startAgent(lab, pop);
    },
    settle: (o, pop) => o.withdrawnAt !== undefined && servedElsewhere(o, pop),
    expect(o, pop, r) {
      within(r, 'path withdrawn within 1 s (watchdog stops gobgpd)', rel(o, o.withdrawnAt), 1000);
      within(r, 'DNS moves the New York client within 3 s (lease 1.5 s)', rel(o, firstAnswerChange(o, pop)?.t), 3000);
    },
  },
  'link-cut': {
    description: "the router's link to us-east goes down",
    timeoutMs: 15000,
    async inject(_lab, pop) {
      ip('-n', `${PREFIX}rtr`, 'link', 'set', `r-p${pop.n}`, 'down');
      return async () => void ip('-n', `${PREFIX}rtr`, 'link', 'set', `r-p${pop.n}`, 'up');
    },
    settle: (o, pop) => o.withdrawnAt !== undefined && servedElsewhere(o, pop),
    expect(o, pop, r) {
      within(r, 'path withdrawn within 1 s', rel(o, o.withdrawnAt), 1000);
      within(r, 'DNS moves the New York client within 1 s (the agent sees BFD down)', rel(o, firstAnswerChange(o, pop)?.t), 1000);
    },
  },
  blackhole: {
    description: 'us-east silently stops answering on its link (no FIN, no NOTIFICATION)',
    timeoutMs: 15000,
    async inject(_lab, pop) {
      ip('-n', pop.ns, 'addr', 'del', `10.20.${pop.n}.2/24`, 'dev', `p${pop.n}-r`);
      return async () => {
        ip('-n', pop.ns, 'addr', 'add', `10.20.${pop.n}.2/24`, 'dev', `p${pop.n}-r`);
        ip('-n', pop.ns, 'route', 'replace', 'default', 'via', `10.20.${pop.n}.1`);
      };
    },
    settle: (o, pop) => o.withdrawnAt !== undefined && servedElsewhere(o, pop),
    expect(o, pop, r) {
      within(r, 'path withdrawn by BFD within 1 s (hold time is 9 s)', rel(o, o.withdrawnAt), 1000);
      within(r, 'DNS moves the New York client within 1 s (the agent sees BFD down)', rel(o, firstAnswerChange(o, pop)?.t), 1000);
      errorsStopWithin(r, 2000);
    },
  },
  drain: {
    description: 'planned drain of us-east (agent maintenance): DNS moves first, then BGP de-prefers and withdraws',
    timeoutMs: 8000,
    async inject(_lab, pop) {
      fetchIn(pop.ns, 'http://127.0.0.1:9180/maintenance', 'POST', { enabled: true, reason: 'drill' });
      return async () => void fetchIn(pop.ns, 'http://127.0.0.1:9180/maintenance', 'POST', { enabled: false });
    },
    settle: (o) => o.withdrawnAt !== undefined,
    expect(o, pop, r) {
      const moved = rel(o, firstAnswerChange(o, pop)?.t);
      const d = rel(o, o.deprefAt);
      const w = rel(o, o.withdrawnAt);
      expectation(r, 'path de-preferred (local-pref 0) before it is withdrawn', d !== undefined && (w === undefined || d <= w), `de-preferred +${d ?? 'never'} ms, withdrawn +${w ?? 'never'} ms`);
      expectation(r, 'DNS moves clients before the path is withdrawn', moved !== undefined && w !== undefined && moved < w, `DNS +${moved ?? 'never'} ms, withdrawn +${w ?? 'never'} ms`);
      expectation(r, 'zero client errors', Object.values(r.clients).every((c) => c.errors === 0), Object.entries(r.clients).map(([k, c]) => `${k} ${c.errors}/${c.fetches}`).join(', '));
    },
  },
  recovery: {
    description: "us-east's cluster comes back: rise, hold-down, re-announce, DNS returns",
    timeoutMs: 10000,
    restoreEarly: true,
    async inject(lab, pop) {
      // Precondition: us-east down (its cluster dead, path withdrawn, DNS moved away).
      return killCluster(lab, pop);
    },
    settle: (o, pop) =>
      o.backAt !== undefined &&
      firstAnswer(o, o.t0, (a) => a === pop.vip) !== undefined &&
      o.fetches.some((e) => e.client === AFFECTED && e.t > (o.backAt ?? 0) && e.outcome.startsWith('ok')),
    expect(o, pop, r) {
      const back = rel(o, o.backAt);
      const sinceDown = o.backAt !== undefined && o.downAt !== undefined ? o.backAt - o.downAt : undefined;
      // Rise: 2 healthy probes at the 50 ms fast interval; hold-down: 1 s after the withdrawal.
      expectation(r, 'path re-announced only after rise (2 probes)', back !== undefined && back >= 50, back === undefined ? 'never' : `+${back} ms after the cluster came back`);
      expectation(r, 'and not before the 1 s hold-down since the agent withdrew it', sinceDown !== undefined && sinceDown >= 1000, sinceDown === undefined ? 'never' : `${sinceDown} ms after the agent withdrew it`);
      const home = firstAnswer(o, o.t0, (a) => a === pop.vip);
      expectation(r, 'DNS returns the New York client to us-east', home !== undefined, home ? `+${home.t - o.t0} ms` : 'never');
      const errs = o.fetches.filter((e) => e.client === AFFECTED && e.t >= o.t0 && e.outcome.startsWith('error')).length;
      expectation(r, 'no client errors during the return', errs === 0, `${errs} failed fetches`);
    },
  },
};

export const DRILL_NAMES = Object.keys(DRILLS);

/** A pino line of a lab process; named events carry `event` (see src/state/events.ts). */
type LogLine = { time: number; msg: string; event?: string } & Record<string, unknown>;

/** The JSON lines of one lab process's log (pino), skipping anything else. */
function readLog(lab: Lab, file: string): LogLine[] {
  const path = join(lab.dir, 'logs', file);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return []; // a line still being written
    }
  });
}

function agentWentDownAt(lab: Lab, pop: LabPop, since: number): number | undefined {
  return readLog(lab, `${pop.name}-agent.log`).find((j) => isEvent(j, 'agent.vip.state') && j.time >= since && j.to === 'DOWN')?.time;
}

/** One timeline line per named event the drills show; other lines are not shown. */
function describeEvent(j: LogLine): string | undefined {
  if (isEvent(j, 'agent.vip.state')) return `VIP ${j.vip} ${j.from} -> ${j.to} (${j.reason})`;
  if (isEvent(j, 'agent.lb.node')) return `LB node ${j.node} ${j.state}`;
  if (isEvent(j, 'bgp.path.withdrawn')) return `withdrew ${j.prefix}`;
  if (isEvent(j, 'region.state')) return `region ${j.region} ${j.from} -> ${j.to} (${j.reason})`;
  if (isEvent(j, 'gobgpd.started')) return 'gobgpd started';
  if (isEvent(j, 'gobgpd.exited')) return `gobgpd exited (code ${j.code}); restarting it`;
  if (isEvent(j, 'bfd.session')) return `BFD to ${j.peer} ${j.from ?? 'unknown'} -> ${j.to ?? 'unknown'}`;
  if (isEvent(j, 'bgp.session')) return `BGP to ${j.peer} ${j.from ?? 'unknown'} -> ${j.to}`;
  return undefined;
}

function logEventsSince(lab: Lab, t0: number): { t: number; what: string }[] {
  const out: { t: number; what: string }[] = [];
  const files = [...lab.pops.map((p) => [`${p.name}-agent.log`, `agent ${p.name}`]), ['dns.log', 'DNS']] as const;
  for (const [file, who] of files) {
    for (const j of readLog(lab, file)) {
      if (j.time < t0) continue;
      const what = describeEvent(j);
      if (what) out.push({ t: j.time, what: `${who}: ${what}` });
    }
  }
  return out;
}

export async function runDrill(lab: Lab, name: string): Promise<DrillResult> {
  const drill = DRILLS[name];
  if (!drill) throw new Error(`unknown drill ${name} (have: ${DRILL_NAMES.join(', ')})`);
  const pop = lab.pops.find((p) => p.name === 'us-east') ?? (lab.pops[0] as LabPop);
  const bird = await BirdClient.connect(lab.birdSocket);
  const present = async () => (await bird.routes(`${pop.vip}/32`)).find((r) => r.protocol === `p${pop.n}`);
  const budget = drill.timeoutMs + 12_000;
  const o: Observed = { t0: 0, fetches: [], answerEvents: [], logEvents: [] };
  const probers: ChildProcess[] = lab.clients.map((c) => {
    const p = spawnIn(c.ns, process.execPath, [join(packageRoot(), 'dist', 'lab', 'client.js'), DNS_IP, 'www.example.test', c.subnet, '50', String(budget)]);
    let buf = '';
    p.stdout?.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const e = JSON.parse(line) as { t: number; event: string; answer: string | null; outcome: string };
          if (e.event === 'fetch') o.fetches.push({ client: c.name, t: e.t, answer: e.answer, outcome: e.outcome });
          else if (e.event === 'answer') o.answerEvents.push({ client: c.name, t: e.t, answer: e.answer });
        } catch {
          /* ignore */
        }
      }
    });
    return p;
  });
  // Whatever happens, a fault this drill injected is repaired before it returns.
  let undo: (() => Promise<void>) | undefined;
  const repair = async () => {
    const u = undo;
    undo = undefined;
    await u?.();
  };
  try {
    // Baseline: the path is at the router and the New York client is served by us-east.
    await new Promise((r) => setTimeout(r, 1500));
    const ready = Date.now() + 15_000;
    while (!((await present())?.localPref === 100 && lastFetch(o)?.outcome === `ok served by ${pop.name}`)) {
      if (Date.now() > ready) throw new Error(`drill ${name}: the lab is not in steady state (${pop.name} not announced or not serving the New York client); see gtm lab status`);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (drill.restoreEarly) {
      // Recovery: break it first, wait until it is down, then t0 is the restore.
      undo = await drill.inject(lab, pop);
      const injectedAt = Date.now();
      const end = injectedAt + 10_000;
      while ((await present()) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      // The hold-down runs from the agent's own DOWN decision: take that time from its log.
      o.downAt = agentWentDownAt(lab, pop, injectedAt) ?? Date.now();
      await new Promise((r) => setTimeout(r, 300));
      o.t0 = Date.now();
      await repair();
    } else {
      o.t0 = Date.now();
      undo = await drill.inject(lab, pop);
    }
    const end = o.t0 + drill.timeoutMs;
    // Judged against the state before the injection: a link cut withdraws within the inject call.
    let wasPresent = !drill.restoreEarly;
    while (Date.now() < end && !drill.settle(o, pop)) {
      const r = await present();
      const now = Date.now();
      if (!r && wasPresent && o.withdrawnAt === undefined) o.withdrawnAt = now;
      if (r && r.localPref === 0 && o.deprefAt === undefined) o.deprefAt = now;
      if (r && !wasPresent && o.backAt === undefined) o.backAt = now;
      wasPresent = !!r;
      await new Promise((res) => setTimeout(res, 10));
    }
    o.restoreAt = Date.now();
    await repair();
    // Let the lab return to steady state before the next drill.
    const steady = Date.now() + 15_000;
    while (Date.now() < steady) {
      const r = await present();
      if (r && r.localPref === 100 && lastFetch(o)?.answer === pop.vip) break;
      await new Promise((res) => setTimeout(res, 50));
    }
  } finally {
    await repair().catch(() => undefined);
    for (const p of probers) killPid(p.pid, 'SIGTERM');
    bird.close();
  }
  o.logEvents = logEventsSince(lab, o.t0 - 100);

  const result: DrillResult = { name, description: drill.description, passed: false, timeline: [], expectations: [], clients: {} };
  for (const c of lab.clients) {
    const fetches = o.fetches.filter((e) => e.client === c.name && e.t >= o.t0 && e.t <= (o.restoreAt ?? Infinity));
    const errs = fetches.filter((e) => e.outcome.startsWith('error'));
    result.clients[c.name] = { fetches: fetches.length, errors: errs.length, firstErrorMs: rel(o, errs[0]?.t), lastErrorMs: rel(o, errs.at(-1)?.t) };
  }
  const tl: TimelineEvent[] = [{ ms: 0, what: drill.restoreEarly ? 'failure repaired (cluster restarted)' : `failure injected: ${drill.description}` }];
  if (o.deprefAt) tl.push({ ms: o.deprefAt - o.t0, what: `router: path to ${pop.vip} de-preferred (local-pref 0)` });
  if (o.withdrawnAt) tl.push({ ms: o.withdrawnAt - o.t0, what: `router: path to ${pop.vip} withdrawn` });
  if (o.backAt) tl.push({ ms: o.backAt - o.t0, what: `router: path to ${pop.vip} announced again` });
  for (const e of o.logEvents) tl.push({ ms: e.t - o.t0, what: e.what });
  const during = (x: { t: number }) => x.t >= o.t0 && x.t <= (o.restoreAt ?? Infinity);
  for (const e of o.answerEvents.filter(during)) tl.push({ ms: e.t - o.t0, what: `DNS answers client ${e.client}: ${e.answer ?? 'nothing'}` });
  for (const e of outcomeChanges(o.fetches).filter(during)) tl.push({ ms: e.t - o.t0, what: `client ${e.client}: answer ${e.answer ?? 'none'}, ${e.outcome}` });
  if (o.restoreAt && !drill.restoreEarly) tl.push({ ms: o.restoreAt - o.t0, what: 'failure repaired' });
  result.timeline = tl.sort((a, b) => a.ms - b.ms);
  drill.expect(o, pop, result);
  result.passed = result.expectations.every((e) => e.ok);
  return result;
}

export function formatDrill(r: DrillResult): string {
  const lines = [`drill ${r.name}: ${r.description}`, ''];
  for (const e of r.timeline) lines.push(`  ${`${e.ms >= 0 ? '+' : ''}${e.ms} ms`.padStart(10)}  ${e.what}`);
  lines.push('', '  clients (during the failure):');
  for (const [k, c] of Object.entries(r.clients)) lines.push(`    ${k}: ${c.errors === 0 ? `${c.fetches} fetches, no errors` : `${c.errors} of ${c.fetches} fetches failed, from +${c.firstErrorMs} ms to +${c.lastErrorMs} ms`}`);
  lines.push('', '  expectations:');
  for (const e of r.expectations) lines.push(`    ${e.ok ? 'PASS' : 'FAIL'}  ${e.text}: ${e.detail}`);
  lines.push('', `  ${r.passed ? 'PASSED' : 'FAILED'}`);
  return lines.join('\n');
}

