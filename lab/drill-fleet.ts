// Drills of the fleet as one system (issue 14): the shared anycast VIP that every PoP announces,
// the BGP guard rail against a fleet-wide false signal, and one API drain for DNS and BGP.
import { PREFIX } from './lab.js';
import { fetchIn, fetchInAsync } from './netns.js';
import { PLAN } from './address-plan.js';
import {
  type Drill,
  AFFECTED,
  expectation,
  rel,
  within,
  errorsStopWithin,
  killCluster,
  firstAnswer,
  firstAnswerChange,
  drainExpectations,
  afterEvent,
  afterRepair,
  whileBroken,
  inWindow,
  fetchesIn,
  sampleLine,
  windowText,
} from './drill-kit.js';
import type { Lab } from './model.js';

/**
 * Turns the LB nodes' health checks of the given PoPs to failing (pages still served), or back:
 * all at once (in parallel), as a shared cause would, however slow the machine is to start curl.
 */
async function healthChecks(lab: Lab, pops: number[], fail: boolean): Promise<void> {
  await Promise.all(
    pops.flatMap((n) =>
      ([1, 2] as const).map((node) =>
        fetchInAsync(`${PREFIX}p${n}`, `http://${PLAN.lbNode(n, node)}:8080/healthz?fail=${fail ? 1 : 0}`, 'POST'),
      ),
    ),
  );
}

const control = (lab: Lab, method: string, path: string, body?: object) =>
  fetchIn(`${PREFIX}dns`, `http://127.0.0.1:9190${path}`, method, body, { authorization: `Bearer ${lab.token}` });

const fewestPaths = (o: { paths: { t: number; count: number }[] }, after = 0) =>
  Math.min(...o.paths.filter((p) => p.t >= after).map((p) => p.count));

export const FLEET_DRILLS: Record<string, Drill> = {
  'anycast-pop-down': {
    description: "us-east's LB cluster dies: it withdraws the shared anycast VIP, the other PoPs keep serving it",
    timeoutMs: 6000,
    anycast: true,
    async inject(lab, pop) {
      return killCluster(lab, pop);
    },
    settle: (o) => o.withdrawnAt !== undefined && o.t0 + 2500 < Date.now(),
    expect(o, pop, r) {
      within(r, "us-east's path to the shared VIP withdrawn within 1 s", rel(o, o.withdrawnAt), 1000);
      expectation(
        r,
        'the other two PoPs keep announcing it',
        fewestPaths(o) >= 2,
        `fewest paths at the router: ${fewestPaths(o)}`,
      );
      errorsStopWithin(r, 1000, o);
      // After the withdrawal and before the repair: once the cluster is back, us-east rightly
      // announces the VIP again and serves its users.
      const w = afterEvent(o, o.withdrawnAt);
      const after = w ? fetchesIn(o, w).filter((f) => f.t > w.from && f.ok) : [];
      const served = new Set(after.map((f) => f.servedBy));
      expectation(
        r,
        'users of the shared VIP are served by the other regions after the withdrawal',
        served.size > 0 && !served.has(pop.region),
        `served by: ${[...served].join(', ') || 'nobody'}${w ? ` (${after.length} fetches ${windowText(o, w)})` : ''}`,
        after.filter((f) => f.servedBy === pop.region).map((f) => sampleLine(o, f)),
      );
    },
  },
  'false-signal-fleetwide': {
    description:
      "every PoP's health checks fail at once on a shared cause while the service works; 3 s later us-east's really recover",
    timeoutMs: 9000,
    anycast: true,
    async inject(lab, pop, mark) {
      const all = lab.pops.map((p) => p.n);
      await healthChecks(lab, all, true);
      mark("every PoP's health checks fail");
      // One region's checks really recover mid-drill: nothing may flap because of it.
      // Marked as it starts: the agent may see the checks pass before curl has even exited.
      const heal = setTimeout(() => {
        mark(`${pop.name}'s health checks recover`);
        void healthChecks(lab, [pop.n], false);
      }, 3000);
      return async () => {
        clearTimeout(heal);
        await healthChecks(lab, all, false);
      };
    },
    settle: (o) => o.t0 + 7000 < Date.now(),
    expect(o, pop, r) {
      expectation(
        r,
        'the shared VIP stays announced by at least two PoPs throughout (at most one of three may go)',
        fewestPaths(o) >= 2,
        `router paths over time: ${o.paths.map((p) => `${p.count}@+${rel(o, p.t)}`).join(' ')}`,
      );
      const holds = o.guardrail.filter((g) => g.held);
      expectation(
        r,
        'the guard rail holds the others (typed bgp.guardrail events, drained form)',
        holds.length >= 2,
        holds.map((g) => `${g.pop} +${rel(o, g.t)} ms`).join(', ') || 'none',
      );
      // DNS: its guard rail lets the first region go, then, once it trips, holds it back in with
      // the others. Judged from the trip (its typed guardrail.held event), not from a guess of
      // how long the machine takes to get there.
      const broken = whileBroken(o);
      const out = new Set(o.regionChanges.filter((c) => c.to === 'down' && inWindow(broken, c.t)).map((c) => c.region));
      expectation(
        r,
        'DNS lets at most one region out (its own guard rail, max_regions_out 0.5)',
        out.size <= 1,
        `regions taken out: ${[...out].join(', ') || 'none'}`,
      );
      const trip = o.dnsGuard.find((g) => g.held.length > 0 && inWindow(broken, g.t));
      const settledAt = (trip?.t ?? o.t0) + 1000;
      const changes = o.answerEvents.filter((e) => e.t > settledAt && e.t < broken.to);
      const nyAt = [...o.answerEvents].filter((e) => e.client === AFFECTED && e.t <= settledAt).at(-1);
      expectation(
        r,
        'DNS answers back to normal within 1 s of its guard rail tripping, and unchanged after, us-east recovery included',
        changes.length === 0 && (nyAt === undefined || nyAt.answer === pop.vip),
        `${trip ? `tripped at +${rel(o, trip.t)} ms (holding ${trip.held.join(', ')})` : 'never tripped'}; ${
          changes.length
            ? changes.map((e) => `${e.client} -> ${e.answer} at +${rel(o, e.t)}`).join(', ')
            : `New York answered ${nyAt?.answer ?? pop.vip} from +${rel(o, settledAt)} ms on`
        }`,
      );
      // After us-east's checks heal: it announces normally again and no other PoP withdraws.
      const healed = o.marks.find((m) => m.what.endsWith('recover'));
      const after = healed?.t ?? Infinity;
      const later = o.paths.filter((p) => p.t > after);
      expectation(
        r,
        'when us-east really recovers nothing flaps: no further withdrawal',
        healed !== undefined &&
          later.every((p, i) => i === 0 || p.count >= (later[i - 1]?.count ?? 0)) &&
          fewestPaths(o, after) >= 2,
        healed
          ? `paths after the recovery (+${rel(o, after)} ms): ${later.map((p) => `${p.count}@+${rel(o, p.t)}`).join(' ') || 'unchanged'}`
          : 'the recovery step never ran',
      );
      const shared = `${PLAN.anycast}/32`;
      const up = o.vipChanges.find((v) => v.pop === pop.name && v.vip === shared && v.to === 'UP' && v.t > after);
      expectation(
        r,
        "us-east's shared VIP back to a normal announcement after its recovery",
        up !== undefined,
        up ? `+${rel(o, up.t)} ms` : 'not seen',
      );
      const errs = r.clients[AFFECTED]?.errors ?? 0;
      expectation(
        r,
        'users of the shared VIP: at most a few errors (the one PoP allowed out)',
        errs <= 5,
        `${errs} of ${r.clients[AFFECTED]?.fetches} fetches failed`,
        o.fetches
          .filter((f) => f.client === AFFECTED && !f.ok && f.t >= o.t0 && f.t <= (o.restoreAt ?? Infinity))
          .map((f) => sampleLine(o, f)),
      );
    },
  },
  'region-drain-api': {
    description: 'one control-API call drains us-east at both layers (DNS first, then BGP), then undrain',
    timeoutMs: 8000,
    async inject(lab, _pop, mark) {
      const r = control(lab, 'POST', '/api/v1/regions/us-east/drain', { reason: 'drill' });
      if (r.status !== 200) throw new Error(`drain refused: HTTP ${r.status} ${r.body}`);
      // The control plane's own time of the change (the API's answer carries it): starting a curl
      // in a namespace can take most of a second on a busy machine, and is not the product.
      mark('the control plane wrote the drain', (JSON.parse(r.body) as { override: { at: number } }).override.at);
      return async () => void control(lab, 'DELETE', '/api/v1/regions/us-east/override?reason=drill%20over');
    },
    settle: (o) => o.withdrawnAt !== undefined,
    expect(o, pop, r) {
      const written = o.marks.find((m) => m.what.startsWith('the control plane wrote'))?.t ?? o.t0;
      const change = firstAnswerChange(o, pop);
      const moved = change && change.t - written;
      expectation(
        r,
        'DNS moves the New York client within 1 s of the control plane writing the drain',
        moved !== undefined && moved < 1000,
        `${moved ?? 'never'} ms after the write (+${rel(o, written)} ms)`,
      );
      drainExpectations(o, pop, r);
      const back = afterRepair(o);
      const home = back && firstAnswer(o, back.from, (a) => a === pop.vip, back.to);
      expectation(
        r,
        'undrain brings us-east back to the New York client',
        home !== undefined,
        home && o.restoreAt ? `+${home.t - o.restoreAt} ms after the undrain` : 'never',
      );
    },
  },
};
