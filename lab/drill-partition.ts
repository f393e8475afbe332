// The etcd-partition drill: of the zone's two DNS nodes, the second is cut from etcd (a blackhole
// route on its own link), then us-east's LB cluster dies. The node that still sees the store moves
// the New York client; the cut one keeps its last view for max_stale_s, then answers SERVFAIL for
// steered names (its config says `store_lost.then: servfail`), so resolvers ask the other node.
import { join } from 'node:path';
import { DNS2_NS, DNS_IP, type Lab } from './lab.js';
import { execIn, ip, killPid, spawnIn } from './netns.js';
import { PLAN } from './address-plan.js';
import { readLog, storeEventsOf } from './drill-logs.js';
import { LAB_MAX_STALE_S } from './render.js';
import {
  type Drill,
  type Observed,
  AFFECTED,
  errorsStopWithin,
  expectation,
  firstAnswerChange,
  killCluster,
  onClientEvents,
  markAt,
  sleep,
  until,
} from './drill-kit.js';
import { packageRoot } from '../src/runtime/index.js';

const STALE_MS = LAB_MAX_STALE_S * 1000;
/** The cut lasts past the stale window, so the fallback shows. */
const CUT_MS = STALE_MS + 3000;
/** The cluster dies this long into the partition. */
const KILL_AFTER_MS = 1000;
const ANSWER = 'DNS node 2 answers the New York client: ';

/** The route that cuts the second node from etcd: its packets to the DNS node's address are dropped. */
const cutRoute = ['route', 'add', 'blackhole', `${DNS_IP}/32`];

/** Asks the second node for the steered name as the New York client would; its status line. */
function askSecondNode(lab: Lab): string {
  const us = lab.clients.find((c) => c.name === AFFECTED) ?? lab.clients[0];
  if (!us) return 'no client';
  try {
    const out = execIn(us.ns, 'kdig', [`@${PLAN.dns2}`, '+norec', '+timeout=1', '+retry=0', 'www.example.test', 'A']);
    return /status: (\w+)/.exec(out)?.[1] ?? 'no status';
  } catch (err) {
    return `kdig failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** The second node's typed store events, from `since`. */
const storeEvents = (lab: Lab, since: number) => storeEventsOf(readLog(lab, 'dns2.log')).filter((e) => e.t >= since);

/** What the second node answered the New York client, from the marks its watcher left. */
const secondAnswers = (o: Observed) =>
  o.marks.filter((m) => m.what.startsWith(ANSWER)).map((m) => ({ t: m.t, answer: m.what.slice(ANSWER.length) }));

/** Starts a user of node 2 in New York; tells `seen` each answer change. Returns how to stop it. */
function watchSecondNode(lab: Lab, seen: (t: number, answer: string) => void): () => void {
  const us = lab.clients.find((c) => c.name === AFFECTED);
  if (!us) throw new Error('the lab has no New York client');
  const watcher = spawnIn(us.ns, process.execPath, [
    join(packageRoot(), 'dist', 'lab', 'client.js'),
    PLAN.dns2,
    'www.example.test',
    us.subnet,
    '50',
    String(CUT_MS + 30_000),
  ]);
  onClientEvents(watcher.stdout, (e) => {
    if (e.event === 'answer') seen(e.t, e.answer ?? 'nothing');
  });
  return () => killPid(watcher.pid, 'SIGTERM');
}

export const PARTITION_DRILLS: Record<string, Drill> = {
  'etcd-partition': {
    description:
      "DNS node 2 is cut from etcd, then us-east's LB cluster dies: node 1 moves clients; node 2 keeps its last view for max_stale_s, then answers SERVFAIL for steered names so resolvers ask node 1",
    needs: 'second-dns',
    noFailover: true,
    timeoutMs: CUT_MS,
    async inject(lab, pop, mark, faultNow) {
      let last = { t: 0, answer: '' };
      const stopWatching = watchSecondNode(lab, (t, answer) => {
        last = { t, answer };
        mark(`${ANSWER}${answer}`, t);
      });
      await until(() => last.answer === pop.vip, 3000, 50);
      faultNow();
      const cutAt = Date.now();
      ip('-n', DNS2_NS, ...cutRoute);
      mark('DNS node 2 cut from etcd');
      await sleep(KILL_AFTER_MS);
      const restart = killCluster(lab, pop);
      mark(`${pop.name}'s LB cluster killed`);
      // Once node 2 has fallen back, ask it as a resolver would.
      const asked = (async () => {
        const lost = () => storeEvents(lab, cutAt).some((e) => e.kind === 'lost');
        await until(lost, cutAt + CUT_MS - Date.now());
        mark(`DNS node 2 asked for the steered name: ${askSecondNode(lab)}`);
      })();
      return async () => {
        await asked;
        const healed = Date.now();
        ip('-n', DNS2_NS, ...cutRoute.map((w) => (w === 'add' ? 'del' : w)));
        mark('DNS node 2 reaches etcd again', healed);
        const back = () => storeEvents(lab, healed).some((e) => e.kind === 'back');
        await until(back, 10_000);
        // Node 2 now answers as node 1 does (us-east is still down); then the cluster comes back.
        const agrees = () => last.t >= healed && last.answer !== pop.vip && last.answer !== 'nothing';
        await until(agrees, 5000, 50);
        if (agrees()) mark(`DNS node 2 answers like node 1 again: ${last.answer}`, last.t);
        // Node 2's own account of the partition, from its log.
        for (const e of storeEvents(lab, cutAt))
          mark(e.kind === 'lost' ? `DNS node 2: store.lost, fallback ${e.fallback}` : 'DNS node 2: store.back', e.t);
        await restart();
        await sleep(1000);
        stopWatching();
      };
    },
    settle: () => false,
    expect(o, pop, r) {
      const cut = markAt(o, 'DNS node 2 cut from etcd') ?? o.t0;
      const killed = markAt(o, `${pop.name}'s LB cluster killed`);
      const moved = firstAnswerChange(o, pop)?.t;
      expectation(
        r,
        'node 1 (still sees etcd) answers the New York client another region within 2 s of the cluster dying',
        killed !== undefined && moved !== undefined && moved - killed < 2000,
        killed && moved ? `${moved - killed} ms after` : 'never',
      );
      errorsStopWithin(r, KILL_AFTER_MS + 2000, o);
      const node1Lost = o.storeEvents.filter((e) => e.kind === 'lost').length;
      expectation(r, 'node 1 never loses the store', node1Lost === 0, `${node1Lost} store.lost`);
      const lost = o.marks.find((m) => m.what.startsWith('DNS node 2: store.lost'));
      const lostAt = lost ? lost.t - cut : undefined;
      expectation(
        r,
        `node 2 falls back at max_stale_s (${STALE_MS / 1000} s) with its own rule (servfail)`,
        lostAt !== undefined &&
          lostAt >= STALE_MS - 1100 &&
          lostAt < STALE_MS + 2000 &&
          /servfail$/.test(lost?.what ?? ''),
        lost ? `+${lostAt} ms: ${lost.what}` : 'never',
      );
      const before = secondAnswers(o).filter((a) => a.t >= cut && a.t < (lost?.t ?? Infinity));
      expectation(
        r,
        'until then node 2 serves its last view (us-east, stale once the cluster died)',
        before.every((a) => a.answer === pop.vip),
        before.map((a) => `${a.answer} at +${a.t - cut} ms`).join(', ') || `${pop.vip} throughout`,
      );
      const asked = o.marks.find((m) => m.what.startsWith('DNS node 2 asked'))?.what ?? 'never asked';
      expectation(r, 'then node 2 answers SERVFAIL for the steered name', /: SERVFAIL$/.test(asked), asked);
      const healed = markAt(o, 'DNS node 2 reaches etcd again');
      const back = markAt(o, 'DNS node 2: store.back');
      expectation(
        r,
        // A blackhole, unlike a refused connection, leaves the store's TCP connection in
        // retransmission backoff: the next try after the repair comes up to a few seconds later.
        'node 2 follows etcd again within 8 s of the repair (TCP retransmission backoff)',
        healed !== undefined && back !== undefined && back - healed < 8000,
        healed && back ? `${back - healed} ms after` : 'never',
      );
      const agrees = o.marks.find((m) => m.what.startsWith('DNS node 2 answers like node 1 again'));
      expectation(
        r,
        'and answers the New York client another region, as node 1 does',
        agrees !== undefined,
        agrees ? `${agrees.what} at +${agrees.t - (healed ?? o.t0)} ms after the repair` : 'never',
      );
    },
  },
};
