// Flap damping, with no sockets: one failure moves at once; a region that flaps is held still
// (out, or in by policy) until its penalty decays; a minute of an LB cluster toggling every 2 s
// changes what DNS sees a bounded number of times; operators are never damped; the config's rules.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText, rereadFlapDamping } from '../../src/config/index.js';
import type { RegionStatus, RegionView } from '../../src/contract/index.js';
import { damp, dampingText, releaseAt, type FlapDamping, type FlapPenalty } from '../../src/state/damping.js';
import { announceOf, newVipMachine, step } from '../../src/agent/vip-state.js';
import { mergeRegionState } from '../../src/state/index.js';
import type { AgentReport } from '../../src/contract/index.js';
import { EXAMPLE, tempDir } from '../helpers/dns.js';

const RULE: FlapDamping = {
  penalty: 1000,
  suppressAbove: 2000,
  reuseBelow: 750,
  halfLifeS: 15,
  maxSuppressS: 120,
  hold: 'out',
};

/** The damped statuses for raw statuses at the given times (seconds). */
function run(steps: [number, RegionStatus][], rule = RULE): RegionStatus[] {
  let state: ReturnType<typeof damp>['state'] | undefined;
  return steps.map(([t, raw]) => {
    const d = damp(state, raw, rule, t * 1000);
    state = d.state;
    return d.status;
  });
}

describe('flap damping', () => {
  it('lets one failure and its repair through at once', () => {
    expect(
      run([
        [0, 'up'],
        [10, 'down'],
        [100, 'up'],
      ]),
    ).toEqual(['up', 'down', 'up']);
  });

  it('holds a flapping region out until its penalty decays below reuse', () => {
    const flaps: [number, RegionStatus][] = [
      [0, 'up'],
      [2, 'down'],
      [4, 'up'],
      [6, 'down'],
      [8, 'up'],
    ];
    const seen = run([...flaps, [20, 'up'], [40, 'up'], [60, 'up']]);
    // Third change: 1000 + 1000*2^(-2/15) + ... > 2000: held out from then on, though health says up.
    expect(seen.slice(0, 5)).toEqual(['up', 'down', 'up', 'down', 'down']);
    expect(seen[5]).toBe('down'); // 20 s: still above 750
    expect(seen.at(-1)).toBe('up'); // 60 s: decayed, released
  });

  it('holds in instead when told (hold: in)', () => {
    expect(
      run(
        [
          [0, 'up'],
          [2, 'down'],
          [4, 'up'],
          [6, 'down'],
          [8, 'down'],
        ],
        { ...RULE, hold: 'in' },
      ),
    ).toEqual(['up', 'down', 'up', 'up', 'up']);
  });

  it('says when a held region will be released, and keeps its state while nothing changes', () => {
    const held = damp({ penalty: 3000, at: 0, raw: 'down', heldAs: 'down' }, 'down', RULE, 0);
    expect(held.suppressed).toBe(true);
    expect(releaseAt(held.state, RULE)).toBe(30_000); // 3000 -> 750 is two half-lives
    expect(damp(held.state, 'down', RULE, 1000).state).toBe(held.state); // no new state per merge
    expect(dampingText({ damping: held.state }, RULE, 15_000)).toBe(
      'flapping: held out by damping, penalty 1500, released below 750 in about 15 s',
    );
  });

  it('never holds longer than max_suppress_s after the last flap', () => {
    let state: ReturnType<typeof damp>['state'] | undefined;
    for (let t = 0; t < 600; t += 2) state = damp(state, t % 4 === 0 ? 'up' : 'down', RULE, t * 1000).state;
    expect(releaseAt(state as NonNullable<typeof state>, RULE) - 598_000).toBeLessThanOrEqual(120_000);
  });

  it('a minute of an LB cluster toggling every 2 s changes the damped status at most 4 times (30 undamped)', () => {
    const steps: [number, RegionStatus][] = [];
    for (let t = 0; t <= 60; t += 2) steps.push([t, t % 4 === 0 ? 'up' : 'down']);
    const damped = run(steps);
    const changes = (xs: RegionStatus[]) => xs.filter((s, i) => i > 0 && s !== xs[i - 1]).length;
    expect(changes(steps.map(([, s]) => s))).toBe(30);
    expect(changes(damped)).toBeLessThanOrEqual(4);
  });
});

describe('flap damping in the merge', () => {
  const report = (serving: boolean): AgentReport => ({
    pop: 'dub',
    region: 'eu-west',
    serving,
    sessionUp: true,
    vips: [{ prefix: 'v/32', state: serving ? 'UP' : 'DOWN' }],
    at: 0,
  });
  const merge = (serving: boolean, previous: Map<string, RegionView>, now: number, override = false) =>
    mergeRegionState({
      regions: new Map([
        ['eu-west', 'up'],
        ['us-east', 'up'],
        ['ap-southeast', 'up'],
      ]),
      pops: new Map([['eu-west', ['dub']]]),
      agents: new Map([['dub', report(serving)]]),
      overrides: override
        ? new Map([['eu-west', { status: 'up' as const, reason: 'checked by hand', who: 'ops', at: 0 }]])
        : new Map(),
      previous,
      now,
      maxOutShare: 1,
      damping: RULE,
    }).views;

  it('holds a flapping region out, says so, and leaves an operator alone', () => {
    let views = new Map<string, RegionView>();
    for (const [t, serving] of [
      [0, true],
      [2, false],
      [4, true],
      [6, false],
      [8, true],
    ] as const)
      views = merge(serving, views, t * 1000);
    const eu = views.get('eu-west');
    expect(eu?.status).toBe('down');
    expect(eu?.damping?.heldAs).toBe('down');
    expect(eu?.reason).toMatch(
      /^held out by flap damping \(released once the penalty decays below 750\); health says up/,
    );
    // Regions without agents (configured) are not damped.
    expect(views.get('us-east')?.damping).toBeUndefined();
    // An operator's status is not damped.
    expect(merge(true, views, 9000, true).get('eu-west')?.status).toBe('up');
  });
});

describe('flap damping in the config', () => {
  const base = readFileSync(EXAMPLE, 'utf8');
  const withControl = (d: string) =>
    `${base}control:\n  store: { file: /tmp/gtm-damping-test.json }\n  flap_damping: ${d}\n`;
  it('takes true for the defaults, or knobs', () => {
    expect(parseConfigText(withControl('true')).control?.flapDamping).toEqual(RULE);
    expect(parseConfigText(withControl('{ half_life_s: 5, hold: in }')).control?.flapDamping).toMatchObject({
      halfLifeS: 5,
      hold: 'in',
    });
  });
  it('refuses a reuse threshold at or above suppression, and an unknown hold', () => {
    expect(() => parseConfigText(withControl('{ reuse_below: 3000 }'))).toThrow(
      /control\.flap_damping\.reuse_below: must be below suppress_above/,
    );
    expect(() => parseConfigText(withControl('{ hold: sideways }'))).toThrow(
      /control\.flap_damping\.hold: must be out or in/,
    );
  });
  it('is read again on SIGHUP by agents and the control plane: on, off, and a broken file refused', () => {
    const file = join(tempDir(), 'config.yaml');
    const lines: Record<string, unknown>[] = [];
    const sink = {
      info: (o: object) => lines.push(o as Record<string, unknown>),
      warn: () => undefined,
      error: (o: object) => lines.push(o as Record<string, unknown>),
    };
    const applied: (FlapDamping | undefined)[] = [];
    const reread = () => rereadFlapDamping(file, sink, (rule) => applied.push(rule));
    writeFileSync(file, withControl('true'));
    reread();
    writeFileSync(file, `${base}control:\n  store: { file: /tmp/gtm-damping-test.json }\n`);
    reread();
    writeFileSync(file, withControl('{ reuse_below: 3000 }'));
    reread();
    // The broken file changed nothing: the rule in force stays (off, here).
    expect(applied).toEqual([RULE, undefined]);
    expect(lines.map((l) => l.event)).toEqual(['config.reloaded', 'config.reloaded', 'config.refused']);
    expect(lines[0]?.why).toMatch(/control\.flap_damping on/);
    expect(lines[2]?.problems).toEqual([expect.stringMatching(/reuse_below: must be below suppress_above/)]);
  });
});

describe('flap damping of a VIP (the agent)', () => {
  const base = { verdictReason: 'probes', maintenance: false, shuttingDown: false, holdDownMs: 1000, drainMs: 0 };
  /** A minute of the VIP's cluster toggling every 2 s, stepped every 100 ms: the announcements. */
  function toggle(damping?: FlapDamping) {
    let m = newVipMachine(0);
    const announced: string[] = [];
    for (let t = 0; t <= 200_000; t += 100) {
      const healthy = t >= 60_000 || Math.floor(t / 2000) % 2 === 0;
      m = step(m, { ...base, verdict: healthy ? 'healthy' : 'unhealthy', now: t, damping }).m;
      announced.push(announceOf(m));
    }
    return { m, changes: announced.filter((a, i) => i > 0 && a !== announced[i - 1]).length };
  }

  it('announces and withdraws a VIP flapping for a minute at most 4 times (30 undamped), and re-announces once it decays', () => {
    expect(toggle().changes).toBe(30);
    const damped = toggle(RULE);
    // Two flaps, then held for as long as it flaps (each failure while held is a flap too), then
    // back once the penalty decays: within max_suppress_s (120) of the flapping stopping.
    expect(damped.changes).toBeLessThanOrEqual(4);
    expect(damped.m.state).toBe('UP');
    expect(damped.m.since).toBeGreaterThan(60_000);
    expect(damped.m.since).toBeLessThanOrEqual(60_000 + RULE.maxSuppressS * 1000);
  });

  it('counts a failure while damping holds the VIP withdrawn: a cluster that keeps flapping stays out', () => {
    let m = newVipMachine(0);
    const at = (t: number, healthy: boolean) =>
      (m = step(m, { ...base, verdict: healthy ? 'healthy' : 'unhealthy', now: t, damping: RULE }).m);
    at(0, true);
    for (let t = 2000; t <= 10_000; t += 2000) at(t, t % 4000 !== 0);
    expect(m.damping?.suppressed).toBe(true);
    at(12_000, true);
    const held = m.damping?.penalty ?? 0;
    expect(m.damped).toBe(true);
    at(14_000, false); // fails again while held
    expect(m.damping?.penalty).toBeGreaterThan(held);
    expect(m.flaps).toBe(4);
    at(16_000, true);
    expect(m.wakeAt).toBeGreaterThan(Math.ceil(releaseAt({ penalty: held, at: 12_000 }, RULE)));
  });

  it('keeps a suppressed VIP withdrawn, says why once, and wakes when the penalty decays', () => {
    let m = newVipMachine(0);
    const at = (t: number, healthy: boolean) => {
      const r = step(m, { ...base, verdict: healthy ? 'healthy' : 'unhealthy', now: t, damping: RULE });
      m = r.m;
      return r.changed;
    };
    at(0, true);
    for (let t = 2000; t <= 8000; t += 2000) at(t, t % 4000 !== 0); // down, up, down, up...
    at(10_000, false);
    expect(m.damping?.suppressed).toBe(true);
    expect(at(12_000, true)).toBe(true); // held down by damping: said once
    expect(at(12_100, true)).toBe(false);
    expect([m.state, announceOf(m)]).toEqual(['DOWN', 'none']);
    expect(m.reason).toMatch(/^healthy again, held down by flap damping \(penalty \d+\) for about \d+ s more$/);
    // The penalty as it decays now, above reuse_below while held.
    expect(Number(/penalty (\d+)/.exec(m.reason)?.[1])).toBeGreaterThanOrEqual(RULE.reuseBelow);
    expect(m.wakeAt).toBe(Math.ceil(releaseAt(m.damping as FlapPenalty, RULE)));
    at(m.wakeAt as number, true);
    expect(m.state).toBe('UP');
  });
});
