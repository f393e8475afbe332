// Drills: break the running lab on purpose while clients keep resolving and fetching,
// then print what happened when, and whether it met the stated expectations.
// Timeline sources: the router's control socket (polled), the agents' and DNS server's
// own JSON logs (timestamped state changes), and the clients' fetches and DNS answers.
import { type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { connectRouter, type RouterClient } from './router.js';
import { DNS_IP, PREFIX, type Lab, type LabPop } from './lab.js';
import { fetchInAsync, killPid, spawnIn } from './netns.js';
import { packageRoot } from '../src/runtime/index.js';
import {
  TimelineEvent,
  DrillResult,
  Observed,
  failoverPhases,
  rel,
  lastFetch,
  outcomeChanges,
  servedElsewhere,
  onClientEvents,
} from './drill-kit.js';
import { agentWentDownAt, logEventsSince, typedEventsSince } from './drill-logs.js';
import { DRILLS } from './drill-scenarios.js';
import { PLAN } from './address-plan.js';
import { loadConfigFile } from '../src/config/index.js';
import type { DrillRecord } from '../src/contract/index.js';

export type { DrillResult, TimelineEvent } from './drill-kit.js';
export { formatPhases } from './failover-summary.js';

export const DRILL_NAMES = Object.keys(DRILLS);

/**
 * What keeps the lab from steady state, or undefined: every PoP's own path at the router at
 * local-pref 100, and every region up in DNS on its own health (not held by the guard rail).
 */
async function unsteady(lab: Lab, router: RouterClient): Promise<string | undefined> {
  for (const p of lab.pops) {
    const r = (await router.routes(`${p.vip}/32`)).find((x) => x.protocol === `p${p.n}`);
    if (r?.localPref !== 100) return `${p.name}'s path is not at the router at local-pref 100`;
  }
  const res = await fetchInAsync(`${PREFIX}dns`, 'http://127.0.0.1:9190/api/v1/regions', 'GET', undefined, {
    authorization: `Bearer ${lab.token}`,
  });
  if (res.status !== 200) return `the control API answered ${res.status}`;
  const out = (JSON.parse(res.body) as { name: string; status: string; held: boolean }[]).find(
    (r) => r.status !== 'up' || r.held,
  );
  return out && `region ${out.name} is ${out.held ? 'held in DNS by the guard rail' : out.status}`;
}

/** The lab's shared store is etcd (reached over the lab's network), not a state file. */
const storeIsEtcd = (lab: Lab) => loadConfigFile(lab.config).control?.store.kind === 'etcd';

/** Why a drill cannot run in this lab, or undefined (`drill all` skips it and says so). */
export function cannotRun(lab: Lab, name: string): string | undefined {
  const needs = DRILLS[name]?.needs;
  if (needs === 'etcd' && !storeIsEtcd(lab))
    return `drill ${name} needs the shared store in etcd: gtm lab up --store etcd (or --engine compose)`;
  if (needs === 'second-dns' && (lab.engine === 'compose' || !storeIsEtcd(lab)))
    return `drill ${name} needs a second DNS node: gtm lab up --store etcd (namespace lab)`;
  return undefined;
}

export async function runDrill(lab: Lab, name: string): Promise<DrillResult> {
  const drill = DRILLS[name];
  if (!drill) throw new Error(`unknown drill ${name} (have: ${DRILL_NAMES.join(', ')})`);
  const why = cannotRun(lab, name);
  if (why) throw new Error(why);
  const pop = lab.pops.find((p) => p.name === 'us-east') ?? (lab.pops[0] as LabPop);
  const bird = await connectRouter(lab);
  const prefix = `${drill.anycast ? PLAN.anycast : pop.vip}/32`;
  const routes = () => bird.routes(prefix);
  const present = async () => (await routes()).find((r) => r.protocol === `p${pop.n}`);
  const budget = drill.timeoutMs + 12_000;
  const o: Observed = {
    t0: 0,
    storeOverNetwork: storeIsEtcd(lab),
    fetches: [],
    answerEvents: [],
    logEvents: [],
    regionChanges: [],
    vipChanges: [],
    alerts: [],
    paths: [],
    guardrail: [],
    marks: [],
    dnsGuard: [],
    storeEvents: [],
  };
  const mark = (what: string, at = Date.now()) => o.marks.push({ t: at, what });
  const probers: ChildProcess[] = lab.clients.map((c) => {
    const p = spawnIn(c.ns, process.execPath, [
      join(packageRoot(), 'dist', 'lab', 'client.js'),
      DNS_IP,
      'www.example.test',
      c.subnet,
      '50',
      String(budget),
      ...(drill.anycast ? [PLAN.anycast] : []),
    ]);
    onClientEvents(p.stdout, (e) => {
      if (e.event === 'fetch') {
        const outcome = e.ok ? `ok served by ${e.servedBy}` : `error ${e.error}`;
        o.fetches.push({ client: c.name, t: e.t, answer: e.answer, ok: e.ok, servedBy: e.servedBy, outcome });
      } else o.answerEvents.push({ client: c.name, t: e.t, answer: e.answer });
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
    // Baseline: the whole lab is in steady state (a previous drill's aftermath, such as another
    // PoP's BGP session re-establishing, would otherwise change what this one measures: with a
    // second region out, the guard rail rightly keeps a failing one in DNS), the path is at the
    // router and the New York client is served by us-east.
    await new Promise((r) => setTimeout(r, 1500));
    const ready = Date.now() + 30_000;
    // Anycast users land on any PoP (ECMP): the baseline is that they are served at all.
    const settled = () => (drill.anycast ? lastFetch(o)?.ok === true : lastFetch(o)?.servedBy === pop.name);
    for (;;) {
      const notYet = (await present())?.localPref !== 100 ? `${pop.name} not announced` : await unsteady(lab, bird);
      if (!notYet && settled()) break;
      if (Date.now() > ready)
        throw new Error(
          `drill ${name}: the lab is not in steady state after 30 s (${notYet ?? `${pop.name} not serving the New York client`}); see gtm lab status`,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
    if (drill.restoreEarly) {
      // Recovery: break it first, wait until it is down, then t0 is the restore.
      undo = await drill.inject(lab, pop, mark, () => undefined);
      const injectedAt = Date.now();
      const end = injectedAt + 10_000;
      while ((await present()) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      // Down means down everywhere: the path withdrawn and the New York user served elsewhere
      // (DNS moved), events rather than a guess of how long that takes.
      while (!servedElsewhere(o, pop) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      // The hold-down runs from the agent's own DOWN decision: take that time from its log.
      o.downAt = agentWentDownAt(lab, pop, injectedAt) ?? Date.now();
      o.t0 = Date.now();
      await repair();
    } else {
      o.t0 = Date.now();
      undo = await drill.inject(lab, pop, mark, () => (o.t0 = Date.now()));
    }
    const end = o.t0 + drill.timeoutMs;
    // Judged against the state before the injection: a link cut withdraws within the inject call.
    let wasPresent = !drill.restoreEarly;
    while (Date.now() < end && !drill.settle(o, pop)) {
      const all = await routes();
      const r = all.find((x) => x.protocol === `p${pop.n}`);
      const now = Date.now();
      if (o.paths.at(-1)?.count !== all.length) o.paths.push({ t: now, count: all.length });
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
      if (r && r.localPref === 100 && (drill.anycast ? lastFetch(o)?.ok : lastFetch(o)?.answer === pop.vip)) break;
      await new Promise((res) => setTimeout(res, 50));
    }
  } finally {
    await repair().catch(() => undefined);
    for (const p of probers) killPid(p.pid, 'SIGTERM');
    bird.close();
  }
  o.logEvents = logEventsSince(lab, o.t0 - 100);
  Object.assign(o, typedEventsSince(lab, o.t0 - 100));

  const result: DrillResult = {
    name,
    description: drill.description,
    passed: false,
    startedAt: o.t0,
    timeline: [],
    expectations: [],
    clients: {},
  };
  for (const c of lab.clients) {
    const fetches = o.fetches.filter((e) => e.client === c.name && e.t >= o.t0 && e.t <= (o.restoreAt ?? Infinity));
    const errs = fetches.filter((e) => !e.ok);
    result.clients[c.name] = {
      fetches: fetches.length,
      errors: errs.length,
      firstErrorMs: rel(o, errs[0]?.t),
      lastErrorMs: rel(o, errs.at(-1)?.t),
    };
  }
  const tl: TimelineEvent[] = [
    {
      ms: 0,
      what: drill.restoreEarly ? 'failure repaired (cluster restarted)' : `failure injected: ${drill.description}`,
      lane: 'drill',
    },
  ];
  const at = (t: number, lane: TimelineEvent['lane'], what: string, ok?: boolean) =>
    tl.push({ ms: t - o.t0, what, lane, ...(ok !== undefined ? { ok } : {}) });
  if (o.deprefAt) at(o.deprefAt, 'router', `router: path to ${prefix} from ${pop.name} de-preferred (local-pref 0)`);
  if (o.withdrawnAt) at(o.withdrawnAt, 'router', `router: path to ${prefix} from ${pop.name} withdrawn`);
  if (o.backAt) at(o.backAt, 'router', `router: path to ${prefix} from ${pop.name} announced again`);
  if (drill.anycast) for (const p of o.paths) at(p.t, 'router', `router: ${p.count} path(s) to the shared ${prefix}`);
  for (const m of o.marks) at(m.t, 'drill', `drill: ${m.what}`);
  for (const e of o.logEvents) at(e.t, 'events', e.what);
  for (const a of o.alerts) at(a.t, 'alerts', `alert delivered to the webhook: ${a.summary}`);
  const during = (x: { t: number }) => x.t >= o.t0 && x.t <= (o.restoreAt ?? Infinity);
  for (const e of o.answerEvents.filter(during))
    at(e.t, 'dns', `DNS answers client ${e.client}: ${e.answer ?? 'nothing'}`);
  for (const e of outcomeChanges(o.fetches).filter(during))
    at(e.t, 'clients', `client ${e.client}: answer ${e.answer ?? 'none'}, ${e.outcome}`, e.ok);
  if (o.restoreAt && !drill.restoreEarly) at(o.restoreAt, 'drill', 'failure repaired');
  result.timeline = tl.sort((a, b) => a.ms - b.ms);
  if (!drill.restoreEarly && !drill.noFailover) result.phases = failoverPhases(o, pop, drill.anycast);
  drill.expect(o, pop, result);
  result.passed = result.expectations.every((e) => e.ok);
  return result;
}

/**
 * Records a drill with the lab's control plane, whose console draws its timeline; says why not
 * when it cannot (the drill's own verdict does not depend on it).
 */
export async function recordDrill(lab: Lab, r: DrillResult): Promise<string | undefined> {
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);
  const record: DrillRecord = {
    name: r.name,
    description: cut(r.description, 500),
    passed: r.passed,
    startedAt: r.startedAt,
    timeline: r.timeline.slice(0, 2000).map((e) => ({ ...e, what: cut(e.what, 500) })),
    expectations: r.expectations
      .slice(0, 100)
      .map((e) => ({ text: cut(e.text, 500), ok: e.ok, detail: cut(e.detail, 2000) })),
    ...(r.phases ? { phases: r.phases } : {}),
  };
  const res = await fetchInAsync(`${PREFIX}dns`, 'http://127.0.0.1:9190/api/v1/drills', 'POST', record, {
    authorization: `Bearer ${lab.token}`,
  });
  return res.status === 201 ? undefined : `the control API answered ${res.status}: ${res.body.slice(0, 200)}`;
}

export function formatDrill(r: DrillResult): string {
  const lines = [`drill ${r.name}: ${r.description}`, ''];
  for (const e of r.timeline) lines.push(`  ${`${e.ms >= 0 ? '+' : ''}${e.ms} ms`.padStart(10)}  ${e.what}`);
  lines.push('', '  clients (during the failure):');
  for (const [k, c] of Object.entries(r.clients))
    lines.push(
      `    ${k}: ${c.errors === 0 ? `${c.fetches} fetches, no errors` : `${c.errors} of ${c.fetches} fetches failed, from +${c.firstErrorMs} ms to +${c.lastErrorMs} ms`}`,
    );
  lines.push('', '  expectations:');
  for (const e of r.expectations) {
    lines.push(`    ${e.ok ? 'PASS' : 'FAIL'}  ${e.text}: ${e.detail}`);
    // A failure shows the samples that broke it (the first 12), with their times and outcomes.
    if (!e.ok && e.evidence?.length) {
      for (const line of e.evidence.slice(0, 12)) lines.push(`            ${line}`);
      if (e.evidence.length > 12) lines.push(`            ... and ${e.evidence.length - 12} more`);
    }
  }
  lines.push('', `  ${r.passed ? 'PASSED' : 'FAILED'}`);
  return lines.join('\n');
}
