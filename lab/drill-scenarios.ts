// Drills: each scenario, what it injects, when it has settled, and what it expects.
import { PREFIX } from './lab.js';
import { fetchIn, ifaceWithAddress, ip } from './netns.js';
import { pidInPop, signalInPop, signalProcesses, startLbNode, waitRestarted } from './procs.js';
import { PLAN } from './address-plan.js';
import {
  type Drill,
  AFFECTED,
  agentStatus,
  expectation,
  rel,
  within,
  errorsStopWithin,
  drainExpectations,
  clusterDownExpectations,
  killCluster,
  dnsMovesWhenCut,
  firstAnswer,
  firstAnswerChange,
  servedElsewhere,
  whileBroken,
  afterRepair,
  fetchesIn,
  sampleLine,
  windowText,
} from './drill-kit.js';

import { FLEET_DRILLS } from './drill-fleet.js';
import { CAPACITY_DRILLS } from './drill-capacity.js';
import { PLANE_DRILLS } from './drill-planes.js';
import { FLAPPING_DRILLS } from './drill-flapping.js';
import { PARTITION_DRILLS } from './drill-partition.js';

export const DRILLS: Record<string, Drill> = {
  'lb-node-down': {
    description: 'one LB node of us-east dies; the cluster still serves',
    timeoutMs: 3000,
    async inject(lab, pop) {
      signalProcesses(lab, pop, [`${pop.name}-lb1`], 'SIGKILL');
      return async () => void startLbNode(lab, pop, 1);
    },
    settle: () => false,
    expect(o, pop, r) {
      expectation(
        r,
        'path stays announced',
        o.withdrawnAt === undefined,
        o.withdrawnAt ? `withdrawn at +${rel(o, o.withdrawnAt)} ms` : 'never withdrawn',
      );
      const changed = firstAnswerChange(o, pop);
      expectation(
        r,
        'DNS answers unchanged while the node is down',
        !changed,
        changed ? `answer changed to ${changed.answer} at +${rel(o, changed.t)} ms` : 'unchanged',
      );
      expectation(
        r,
        'zero client errors',
        r.clients[AFFECTED]?.errors === 0,
        `${r.clients[AFFECTED]?.errors} of ${r.clients[AFFECTED]?.fetches} fetches failed`,
        fetchesIn(o, whileBroken(o), AFFECTED)
          .filter((f) => !f.ok)
          .map((f) => sampleLine(o, f)),
      );
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
      clusterDownExpectations(o, pop, r);
      expectation(
        r,
        'clients elsewhere unaffected',
        (r.clients.gb?.errors ?? 0) + (r.clients.sg?.errors ?? 0) === 0,
        `gb ${r.clients.gb?.errors}, sg ${r.clients.sg?.errors}`,
        fetchesIn(o, whileBroken(o))
          .filter((f) => f.client !== AFFECTED && !f.ok)
          .map((f) => sampleLine(o, f)),
      );
    },
  },
  'gobgpd-killed': {
    description: "us-east's gobgpd is killed; the agent restarts it and re-announces",
    timeoutMs: 10000,
    async inject(lab, pop, _mark, faultNow) {
      const pid = agentStatus(pop).bgp.gobgpdPid;
      faultNow();
      signalInPop(lab, pop, pid, 'SIGKILL');
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
      expectation(
        r,
        'DNS returns the New York client within 2 s of the re-announcement',
        after !== undefined && after < 2000,
        after === undefined ? 'never' : `${after} ms after`,
      );
    },
  },
  'gobgpd-frozen': {
    description: "us-east's gobgpd hangs (SIGSTOP): the data plane works until the router's hold time runs out",
    timeoutMs: 14000,
    async inject(lab, pop, _mark, faultNow) {
      const pid = agentStatus(pop).bgp.gobgpdPid;
      faultNow();
      signalInPop(lab, pop, pid, 'SIGSTOP');
      return async () => signalInPop(lab, pop, pid, 'SIGCONT');
    },
    settle: (o, pop) => o.withdrawnAt !== undefined && servedElsewhere(o, pop),
    expect(o, pop, r) {
      const w = rel(o, o.withdrawnAt);
      // The router gives up when its hold timer runs out, counted from gobgpd's last keepalive.
      // Measured with birdc (show protocols all): BIRD restarts its 9 s hold timer with jitter
      // (0.75-1.0, so 6.75-9 s) and gobgpd's keepalives arrive about every 4.5 s, so the
      // withdrawal lands 2.2 to 9 s after the freeze, never at once (nothing tells the router).
      expectation(
        r,
        'path kept while the PoP still forwards, withdrawn at the hold time (2-10 s)',
        w !== undefined && w >= 2000 && w < 10_000,
        w === undefined ? 'never' : `+${w} ms`,
      );
      // The agent asks gobgpd something every second with a 1 s deadline: a frozen gobgpd is
      // "not reachable" within ~2 s, and the PoP leaves DNS at once (often before the router
      // gives up on it).
      const moved = rel(o, firstAnswerChange(o, pop)?.t);
      expectation(
        r,
        'DNS moves within 3 s of the freeze (gobgpd stops answering the agent)',
        moved !== undefined && moved < 3000,
        moved === undefined ? 'never' : `+${moved} ms`,
      );
      const first = r.clients[AFFECTED]?.firstErrorMs;
      expectation(
        r,
        'no client error before the withdrawal',
        first === undefined || (w !== undefined && first >= w),
        first === undefined ? 'no errors' : `first error at +${first} ms`,
      );
      const last = r.clients[AFFECTED]?.lastErrorMs;
      expectation(
        r,
        'client errors stop within 2 s of the withdrawal',
        last === undefined || (w !== undefined && last - w < 2000),
        last === undefined ? 'no errors' : `last error at +${last} ms`,
      );
    },
  },
  'agent-killed': {
    description: "us-east's agent is SIGKILLed (policy: withdraw); its supervisor starts it again",
    timeoutMs: 8000,
    async inject(lab, pop) {
      const name = `${pop.name}-agent`;
      const before = pidInPop(lab, pop, name);
      signalProcesses(lab, pop, [name], 'SIGKILL');
      // The restart policy (2 s, as the systemd units) brings it back; the repair is waiting for that.
      return async () => void (await waitRestarted(lab, pop, name, before));
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
    async inject(_lab, pop, _mark, faultNow) {
      // The router's interface on the PoP's link, found by its address (veth or container eth).
      const dev = ifaceWithAddress(`${PREFIX}rtr`, PLAN.routerOn(pop.n));
      faultNow();
      ip('-n', `${PREFIX}rtr`, 'link', 'set', dev, 'down');
      return async () => {
        ip('-n', `${PREFIX}rtr`, 'link', 'set', dev, 'up');
        // The PoP's default route may have gone with the carrier: the repair puts it back.
        ip('-n', pop.ns, 'route', 'replace', 'default', 'via', PLAN.routerOn(pop.n));
      };
    },
    settle: (o, pop) => o.withdrawnAt !== undefined && servedElsewhere(o, pop),
    expect(o, pop, r) {
      within(r, 'path withdrawn within 1 s', rel(o, o.withdrawnAt), 1000);
      dnsMovesWhenCut(o, pop, r);
    },
  },
  blackhole: {
    description: 'us-east silently stops answering on its link (no FIN, no NOTIFICATION)',
    timeoutMs: 15000,
    async inject(_lab, pop, _mark, faultNow) {
      const dev = ifaceWithAddress(pop.ns, PLAN.pop(pop.n));
      faultNow();
      ip('-n', pop.ns, 'addr', 'del', `${PLAN.pop(pop.n)}/24`, 'dev', dev);
      return async () => {
        ip('-n', pop.ns, 'addr', 'add', `${PLAN.pop(pop.n)}/24`, 'dev', dev);
        ip('-n', pop.ns, 'route', 'replace', 'default', 'via', PLAN.routerOn(pop.n));
      };
    },
    settle: (o, pop) => o.withdrawnAt !== undefined && servedElsewhere(o, pop),
    expect(o, pop, r) {
      within(r, 'path withdrawn by BFD within 1 s (hold time is 9 s)', rel(o, o.withdrawnAt), 1000);
      dnsMovesWhenCut(o, pop, r);
      errorsStopWithin(r, 2000, o);
    },
  },
  drain: {
    description: 'planned drain of us-east (agent maintenance): DNS moves first, then BGP de-prefers and withdraws',
    timeoutMs: 8000,
    async inject(lab, pop) {
      const auth = { authorization: `Bearer ${lab.token}` };
      fetchIn(pop.ns, 'http://127.0.0.1:9180/maintenance', 'POST', { enabled: true, reason: 'drill' }, auth);
      return async () => void fetchIn(pop.ns, 'http://127.0.0.1:9180/maintenance', 'POST', { enabled: false }, auth);
    },
    settle: (o) => o.withdrawnAt !== undefined,
    expect: drainExpectations,
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
      o.fetches.some((e) => e.client === AFFECTED && e.t > (o.backAt ?? 0) && e.ok),
    expect(o, pop, r) {
      const back = rel(o, o.backAt);
      const sinceDown = o.backAt !== undefined && o.downAt !== undefined ? o.backAt - o.downAt : undefined;
      // Rise: 2 healthy probes at the 50 ms fast interval; hold-down: 1 s after the withdrawal.
      expectation(
        r,
        'path re-announced only after rise (2 probes)',
        back !== undefined && back >= 50,
        back === undefined ? 'never' : `+${back} ms after the cluster came back`,
      );
      expectation(
        r,
        'and not before the 1 s hold-down since the agent withdrew it',
        sinceDown !== undefined && sinceDown >= 1000,
        sinceDown === undefined ? 'never' : `${sinceDown} ms after the agent withdrew it`,
      );
      const home = firstAnswer(o, o.t0, (a) => a === pop.vip);
      expectation(
        r,
        'DNS returns the New York client to us-east',
        home !== undefined,
        home ? `+${home.t - o.t0} ms` : 'never',
      );
      // The return: from the cluster's restart to the end of observation.
      const w = whileBroken(o);
      const errs = fetchesIn(o, w, AFFECTED).filter((e) => !e.ok);
      expectation(
        r,
        'no client errors during the return',
        errs.length === 0,
        `${errs.length} failed fetches ${windowText(o, w)}`,
        errs.map((f) => sampleLine(o, f)),
      );
    },
  },
  'upstream-blackhole': {
    description:
      "the router silently drops traffic to us-east's VIP; the PoP stays healthy and its BGP session stays up",
    timeoutMs: 8000,
    async inject(lab, pop) {
      // A policy rule in the router: forwarded packets to the VIP are dropped, the route and the
      // BGP session stay. Only the vantage points (agents elsewhere, probes by the clients) see it.
      const rule = ['rule', 'add', 'to', `${pop.vip}/32`, 'blackhole', 'priority', '100'];
      ip('-n', `${PREFIX}rtr`, ...rule);
      return async () => void ip('-n', `${PREFIX}rtr`, ...rule.map((w) => (w === 'add' ? 'del' : w)));
    },
    settle: (o, pop) => servedElsewhere(o, pop),
    expect(o, pop, r) {
      expectation(
        r,
        'path stays announced (BGP sees nothing wrong)',
        o.withdrawnAt === undefined,
        o.withdrawnAt ? `withdrawn at +${rel(o, o.withdrawnAt)} ms` : 'never withdrawn',
      );
      const vipDown = o.vipChanges.find((v) => v.pop === pop.name && v.t <= (o.restoreAt ?? Infinity));
      expectation(
        r,
        "the PoP's own agent keeps its VIP UP (local checks pass)",
        vipDown === undefined,
        vipDown ? `VIP went ${vipDown.to} at +${rel(o, vipDown.t)} ms` : 'unchanged',
      );
      const out = o.regionChanges.find((c) => c.region === pop.region && c.to === 'down');
      expectation(
        r,
        'DNS takes us-east out on the vantage quorum within 3 s',
        out?.source === 'vantage' && rel(o, out.t)! < 3000,
        out ? `+${rel(o, out.t)} ms, decided by ${out.source}` : 'never',
      );
      within(
        r,
        'the New York client is answered another region within 3 s',
        rel(o, firstAnswerChange(o, pop)?.t),
        3000,
      );
      errorsStopWithin(r, 4000, o);
      const alert = o.alerts.find((a) => a.event === 'region.state' && a.region === pop.region && a.to === 'down');
      within(r, 'an alert for us-east down reaches the webhook within 5 s', rel(o, alert?.t), 5000);
      const back = afterRepair(o);
      const home = back && firstAnswer(o, back.from, (a) => a === pop.vip, back.to);
      expectation(
        r,
        'repair brings us-east back to the New York client',
        home !== undefined,
        home && o.restoreAt ? `+${home.t - o.restoreAt} ms after the repair` : 'never',
      );
    },
  },
  ...FLEET_DRILLS,
  ...CAPACITY_DRILLS,
  ...PLANE_DRILLS,
  ...PARTITION_DRILLS,
  ...FLAPPING_DRILLS,
};
