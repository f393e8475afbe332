// The flapping-cluster drill: us-east's LB cluster goes down and up every 2 s for a minute with
// flap damping turned on the way an operator would in the middle of it (the config file edited,
// SIGHUP to agents and control plane; DNS servers follow the file). Damping holds us-east out at
// both layers, so DNS and the router change a few times instead of once per flap.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { Lab } from './lab.js';
import { signalService } from './procs.js';
import { readLog } from './drill-logs.js';
import {
  type Drill,
  type Observed,
  AFFECTED,
  expectation,
  fetchesIn,
  killCluster,
  sleep,
  until,
  sampleLine,
  whileBroken,
} from './drill-kit.js';
import { isEvent } from '../src/contract/index.js';

/** Down 2 s, up 2 s, this many times: a minute. */
const FLAPS = 15;
const HALF_PERIOD_MS = 2000;
/** Undamped, each flap moves DNS and the router twice (out and back). */
const UNDAMPED_CHANGES = 2 * FLAPS;
/**
 * Damped (`flap_damping: true`: penalty 1000, suppressed above 2000): out and back once, out
 * again and held while it flaps; the one more is the slack of a flap counted as it ends.
 */
const MAX_DAMPED_CHANGES = 4;

/** The lab's processes that read `control.flap_damping`, with the log each reports a reload in. */
const readers = (lab: Lab) => [
  ...lab.pops.map((p) => ({ service: p.region, name: `${p.name}-agent` })),
  { service: 'control', name: 'control' },
  { service: 'dns', name: 'dns' },
];

/**
 * Writes the lab's config with `control.flap_damping` set (or removed) and has every reader take
 * it (SIGHUP; DNS servers also follow the file); waits for each to log the reload.
 */
async function setDamping(lab: Lab, on: boolean): Promise<boolean> {
  const doc = parseDocument(readFileSync(lab.config, 'utf8'));
  if (on) doc.setIn(['control', 'flap_damping'], true);
  else doc.deleteIn(['control', 'flap_damping']);
  const since = Date.now();
  // Renamed into place: a reader never sees half a file.
  writeFileSync(`${lab.config}.new`, doc.toString());
  renameSync(`${lab.config}.new`, lab.config);
  for (const r of readers(lab)) signalService(lab, r.service, r.name, 'SIGHUP');
  const reloaded = (name: string) =>
    readLog(lab, `${name}.log`).some(
      (j) => j.time >= since && (isEvent(j, 'config.reloaded') || isEvent(j, 'config.unchanged')),
    );
  return until(() => readers(lab).every((r) => reloaded(r.name)), 10_000);
}

/** How often a sequence of values changes. */
function changes<T>(values: T[]): number {
  let n = 0;
  for (let i = 1; i < values.length; i++) if (values[i] !== values[i - 1]) n++;
  return n;
}

/**
 * What DNS answered the New York client while the cluster flapped, in order, as its watcher saw
 * it (a fetch reports the answer it resolved before it hung, which would count twice).
 */
function answersWhileFlapping(o: Observed): (string | null)[] {
  const seen = o.answerEvents
    .filter((e) => e.client === AFFECTED && e.answer !== null && e.t <= (o.restoreAt ?? Infinity))
    .sort((a, b) => a.t - b.t);
  // From the answer in force at the fault (the watcher says when an answer changes).
  const before = seen.filter((e) => e.t < o.t0).at(-1);
  return [...(before ? [before] : []), ...seen.filter((e) => e.t >= o.t0)].map((e) => e.answer);
}

const count = (o: Observed, what: string) => o.marks.filter((m) => m.what.startsWith(what)).length;

export const FLAPPING_DRILLS: Record<string, Drill> = {
  'flapping-cluster': {
    description: `us-east's LB cluster down and up every ${HALF_PERIOD_MS / 1000} s for a minute, flap damping turned on (control.flap_damping: true, SIGHUP): DNS and BGP hold still`,
    timeoutMs: FLAPS * 2 * HALF_PERIOD_MS + 5000,
    noFailover: true,
    async inject(lab, pop, mark, faultNow) {
      if (!(await setDamping(lab, true))) throw new Error('flap damping was not taken by every process within 10 s');
      mark('flap damping on (config edited, SIGHUP)');
      faultNow();
      let stopped = false;
      const flapping = (async () => {
        for (let i = 0; i < FLAPS && !stopped; i++) {
          const restart = killCluster(lab, pop);
          mark('cluster down');
          await sleep(HALF_PERIOD_MS);
          await restart();
          mark('cluster up');
          await sleep(HALF_PERIOD_MS);
        }
        mark('flapping over');
      })();
      return async () => {
        stopped = true;
        // Each flap ends with the cluster up again.
        await flapping;
        // Damping off again: what it held is released at once, and the next drill starts undamped.
        mark((await setDamping(lab, false)) ? 'flap damping off' : 'flap damping NOT taken off');
      };
    },
    settle: (o) => o.marks.some((m) => m.what === 'flapping over'),
    expect(o, pop, r) {
      const flaps = count(o, 'cluster down');
      expectation(r, `the cluster flapped ${FLAPS} times`, flaps === FLAPS, `${flaps} times`);
      const dns = changes(answersWhileFlapping(o));
      expectation(
        r,
        `DNS changes the New York client's answer at most ${MAX_DAMPED_CHANGES} times (undamped: ${UNDAMPED_CHANGES})`,
        dns <= MAX_DAMPED_CHANGES,
        `${dns} changes`,
      );
      const region = o.regionChanges.filter((c) => c.region === pop.region && c.t <= (o.restoreAt ?? Infinity));
      expectation(
        r,
        `us-east's state in DNS changes at most ${MAX_DAMPED_CHANGES} times`,
        region.length <= MAX_DAMPED_CHANGES,
        region.map((c) => `${c.to} +${c.t - o.t0} ms`).join(', ') || 'never',
      );
      const paths = o.paths.filter((p) => p.t >= o.t0 && p.t <= (o.restoreAt ?? Infinity));
      expectation(
        r,
        `the router's path to us-east's VIP changes at most ${MAX_DAMPED_CHANGES} times`,
        changes(paths.map((p) => p.count)) <= MAX_DAMPED_CHANGES,
        paths.map((p) => `${p.count} path(s) +${p.t - o.t0} ms`).join(', ') || 'unchanged',
      );
      // Once damping holds us-east out, its clients are served elsewhere: no error from then on
      // (a fetch ends up to 2 s after it began: a 1 s DNS timeout, then a 1 s fetch timeout).
      const still = region.at(-1)?.t ?? o.t0;
      const late = fetchesIn(o, whileBroken(o), AFFECTED).filter((f) => !f.ok && f.t > still + 2000);
      expectation(
        r,
        'no client error from 2 s after DNS holds still (a fetch lasts at most 2 s)',
        late.length === 0,
        `${late.length} failed fetches after +${still - o.t0} ms; ${r.clients[AFFECTED]?.errors ?? 0} in all`,
        late.map((f) => sampleLine(o, f)),
      );
      expectation(
        r,
        'damping taken on and off by the agents, the control plane and DNS (SIGHUP, the file)',
        o.marks.some((m) => m.what === 'flap damping on (config edited, SIGHUP)') &&
          o.marks.some((m) => m.what === 'flap damping off'),
        o.marks
          .filter((m) => m.what.startsWith('flap damping'))
          .map((m) => m.what)
          .join('; '),
      );
    },
  },
};
