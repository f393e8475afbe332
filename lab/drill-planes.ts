// Drills of the planes behind the data path: the control plane frozen while a PoP fails, and the
// shared store (etcd) lost and back. Neither may cost a client an answer, and each says so.
import { PREFIX, type Lab } from './lab.js';
import { fetchInAsync } from './netns.js';
import { signalService } from './procs.js';
import {
  type Drill,
  expectation,
  rel,
  killCluster,
  clusterDownExpectations,
  firstAnswerChange,
  servedElsewhere,
  zeroClientErrors,
  markAt,
  sleep,
  until,
} from './drill-kit.js';
import { alertsSince, readLog, storeEventsOf } from './drill-logs.js';
import { LAB_MAX_STALE_S } from './render.js';

/** Whether the control API answers within `maxTimeS` (any HTTP status is an answer). */
async function controlAnswers(lab: Lab, maxTimeS: number): Promise<boolean> {
  const res = await fetchInAsync(
    `${PREFIX}dns`,
    'http://127.0.0.1:9190/api/v1/regions',
    'GET',
    undefined,
    { authorization: `Bearer ${lab.token}` },
    maxTimeS,
  );
  return res.status !== 0;
}

/** Whether the lab's webhook has received an alert for `region` going down since `since`. */
const alertedDown = (lab: Lab, region: string, since: number) =>
  alertsSince(lab, since).some((a) => a.event === 'region.state' && a.region === region && a.to === 'down');

const STALE_MS = LAB_MAX_STALE_S * 1000;

export const PLANE_DRILLS: Record<string, Drill> = {
  'control-plane-down': {
    description:
      "the control plane (API, console, alerts) hangs; then us-east's LB cluster dies: both layers fail over without it, and it alerts once back",
    timeoutMs: 8000,
    async inject(lab, pop, mark, faultNow) {
      // Frozen rather than killed: its supervisor would start a killed one again in 2 s.
      if (!signalService(lab, 'control', 'control', 'SIGSTOP')) throw new Error('no control plane process found');
      mark('control plane frozen (SIGSTOP)');
      // Frozen for real before the PoP fails: an operator's request gets nothing back.
      mark((await controlAnswers(lab, 1)) ? 'control API still answers' : 'control API: no answer in 1 s');
      faultNow();
      const restart = killCluster(lab, pop);
      mark(`${pop.name}'s LB cluster killed`);
      return async () => {
        const thawed = Date.now();
        signalService(lab, 'control', 'control', 'SIGCONT');
        mark('control plane thawed (SIGCONT)', thawed);
        if (await until(() => controlAnswers(lab, 1), 10_000)) mark('control API answers again');
        // The cluster stays dead until the control plane has caught up and said so.
        if (await until(() => alertedDown(lab, pop.region, thawed), 8000))
          mark(`alert for ${pop.region} down delivered after the thaw`);
        await restart();
      };
    },
    settle: (o, pop) => o.withdrawnAt !== undefined && servedElsewhere(o, pop),
    expect(o, pop, r) {
      const silent = o.marks.find((m) => m.what.startsWith('control API'));
      expectation(
        r,
        'the control API does not answer while frozen',
        silent?.what === 'control API: no answer in 1 s',
        silent?.what ?? 'not checked',
      );
      clusterDownExpectations(o, pop, r, {
        bgp: ' (the agent decides alone)',
        dns: ' (the DNS primary merges the store itself)',
      });
      const thawed = markAt(o, 'control plane thawed');
      const back = markAt(o, 'control API answers again');
      expectation(
        r,
        'the control API answers again within 3 s of the thaw',
        thawed !== undefined && back !== undefined && back - thawed < 3000,
        back && thawed ? `${back - thawed} ms after the thaw` : 'never',
      );
      const alert = o.alerts.find(
        (a) => a.event === 'region.state' && a.region === pop.region && a.to === 'down' && a.t >= (thawed ?? Infinity),
      );
      expectation(
        r,
        `once back, the control plane alerts ${pop.region} down within 5 s`,
        alert !== undefined && thawed !== undefined && alert.t - thawed < 5000,
        alert && thawed ? `${alert.t - thawed} ms after the thaw` : 'no alert after the thaw',
      );
    },
  },
  'store-lost-and-back': {
    description:
      'the shared store (etcd) hangs: DNS serves its last view, then its configured fallback; agents keep announcing; etcd back, DNS follows it again',
    needs: 'etcd',
    // Nothing fails over: no failover phases.
    noFailover: true,
    // Runs the whole time (settle never holds): the stale window, then 3 s of the fallback.
    timeoutMs: STALE_MS + 3000,
    async inject(lab, _pop, mark, faultNow) {
      faultNow();
      if (!signalService(lab, 'etcd', 'etcd', 'SIGSTOP')) throw new Error('no etcd process found');
      mark('etcd frozen (SIGSTOP)');
      return async () => {
        const thawed = Date.now();
        signalService(lab, 'etcd', 'etcd', 'SIGCONT');
        // Marked at the signal: the store may answer before this line runs.
        mark('etcd thawed (SIGCONT)', thawed);
        const back = () => storeEventsOf(readLog(lab, 'dns.log')).some((e) => e.kind === 'back' && e.t >= thawed);
        if (await until(back, 10_000)) mark('DNS follows the store again');
        // A lease that ran out while etcd was frozen would show now: watch the agents re-report.
        await sleep(3000);
      };
    },
    settle: () => false,
    expect(o, pop, r) {
      const stale = STALE_MS;
      const lost = o.storeEvents.find((e) => e.kind === 'lost');
      const at = rel(o, lost?.t);
      // Silence is counted from the store's last answer, read every second: up to 1 s before the freeze.
      expectation(
        r,
        `DNS serves its last view for max_stale_s (${stale / 1000} s), then falls back (store.lost)`,
        at !== undefined && at >= stale - 1100 && at < stale + 2000,
        lost ? `+${at} ms, fallback ${lost.fallback}` : 'never',
      );
      expectation(
        r,
        'agents keep their BGP decisions: the path stays announced',
        o.withdrawnAt === undefined && o.vipChanges.length === 0,
        o.withdrawnAt
          ? `withdrawn at +${rel(o, o.withdrawnAt)} ms`
          : `never withdrawn; ${o.vipChanges.length} VIP state change(s)`,
      );
      const changed = firstAnswerChange(o, pop);
      expectation(
        r,
        'the New York client stays on us-east throughout',
        !changed,
        changed ? `answered ${changed.answer} at +${rel(o, changed.t)} ms` : 'unchanged',
      );
      zeroClientErrors(o, r);
      const thawed = markAt(o, 'etcd thawed');
      const back = o.storeEvents.find((e) => e.kind === 'back' && e.t >= (thawed ?? Infinity));
      expectation(
        r,
        'DNS follows the store again within 3 s of the thaw (store.back)',
        back !== undefined && thawed !== undefined && back.t - thawed < 3000,
        back && thawed ? `${back.t - thawed} ms after the thaw` : 'never',
      );
      const down = o.regionChanges.filter((c) => c.to === 'down');
      expectation(
        r,
        'no region goes down in DNS, during the loss or on the return (leases carried over)',
        down.length === 0,
        down.length ? down.map((c) => `${c.region} down at +${rel(o, c.t)} ms (${c.source})`).join('; ') : 'none',
      );
    },
  },
};
