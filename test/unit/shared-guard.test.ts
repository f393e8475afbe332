// The BGP guard rail's decisions without I/O: when a PoP may withdraw a shared anycast VIP, and
// what the VIP machine does while it may not (kept announced, drained) and once it may.
import { describe, expect, it } from 'vitest';
import { guardDecision } from '../../src/agent/shared-guard.js';
import { announceOf, newVipMachine, step, type VipMachine } from '../../src/agent/vip-state.js';
import type { AgentReport, VipState } from '../../src/contract/index.js';

const vip = { name: 'frontend', address: '198.51.100.100', minAnnouncing: 1, maxWithdrawnShare: 0.5, windowMs: 60_000 };
const prefix = '198.51.100.100/32';
const pops = ['nyc', 'dub', 'sin'];
const report = (pop: string, state: VipState, held = false): AgentReport => ({
  pop,
  region: pop,
  serving: true,
  sessionUp: true,
  vips: [{ prefix, state, ...(held ? { held } : {}) }],
  at: 0,
});
const reports = (...r: AgentReport[]) => new Map(r.map((x) => [x.pop, x]));

describe('guardDecision', () => {
  it('lets one of three PoPs go while the others announce it', () => {
    const d = guardDecision({
      vip,
      prefix,
      me: 'nyc',
      pops,
      reports: reports(report('dub', 'UP'), report('sin', 'UP')),
      claims: [],
    });
    expect(d).toMatchObject({ allow: true, announcing: ['dub', 'sin'] });
  });
  it('holds the second: two of three out would pass max_withdrawn_share', () => {
    const d = guardDecision({
      vip,
      prefix,
      me: 'nyc',
      pops,
      reports: reports(report('dub', 'DOWN'), report('sin', 'UP')),
      claims: [],
    });
    expect(d.allow).toBe(false);
    expect(d.reason).toMatch(/2 of 3 PoPs would be out \(dub, nyc\); max_withdrawn_share is 0\.5/);
  });
  it('counts a claim within the window even before that PoP reports, and held or silent PoPs as out', () => {
    const all = reports(report('dub', 'UP'), report('sin', 'UP'));
    expect(guardDecision({ vip, prefix, me: 'nyc', pops, reports: all, claims: ['dub'] }).allow).toBe(false);
    const held = reports(report('dub', 'DOWN', true), report('sin', 'UP'));
    expect(guardDecision({ vip, prefix, me: 'nyc', pops, reports: held, claims: [] }).announcing).toEqual(['sin']);
    const silent = reports(report('sin', 'UP'));
    expect(guardDecision({ vip, prefix, me: 'nyc', pops, reports: silent, claims: [] }).allow).toBe(false);
  });
  it('min_announcing: never fewer PoPs announcing than promised', () => {
    const strict = { ...vip, minAnnouncing: 2, maxWithdrawnShare: 1 };
    const d = guardDecision({
      vip: strict,
      prefix,
      me: 'nyc',
      pops,
      reports: reports(report('dub', 'UP'), report('sin', 'DOWN')),
      claims: [],
    });
    expect(d.allow).toBe(false);
    expect(d.reason).toMatch(/only 1 other PoP\(s\) announce frontend \(dub\); min_announcing is 2/);
  });
});

describe('a shared VIP machine under the guard rail', () => {
  const base = { verdictReason: 'x', maintenance: false, shuttingDown: false, holdDownMs: 1000, drainMs: 3000 };
  const up = (): VipMachine => step(newVipMachine(0), { ...base, verdict: 'healthy', now: 1 }).m;

  it('kept announced, drained, while the fleet says no; withdrawn once it says yes', () => {
    const held = step(up(), { ...base, verdict: 'unhealthy', now: 10, withdrawAllowed: false, holdReason: 'fleet' }).m;
    expect(held).toMatchObject({ state: 'DOWN', held: true });
    expect(announceOf(held)).toBe('drain');
    expect(held.reason).toMatch(/held announced by the BGP guard rail: fleet/);
    const gone = step(held, { ...base, verdict: 'unhealthy', now: 20, withdrawAllowed: true }).m;
    expect(gone).toMatchObject({ state: 'DOWN', held: false });
    expect(announceOf(gone)).toBe('none');
    expect(gone.lastFlip).toBe(20);
  });
  it('healthy again while held: back to normal at once (it was never withdrawn, no hold-down)', () => {
    const held = step(up(), { ...base, verdict: 'unhealthy', now: 10, withdrawAllowed: false }).m;
    const back = step(held, { ...base, verdict: 'healthy', now: 11, withdrawAllowed: false }).m;
    expect(back).toMatchObject({ state: 'UP', held: false });
    expect(announceOf(back)).toBe('normal');
  });
  it('maintenance is never held; a VIP never announced is not held either', () => {
    const held = step(up(), { ...base, verdict: 'unhealthy', now: 10, withdrawAllowed: false }).m;
    const maint = step(held, { ...base, verdict: 'unhealthy', maintenance: true, now: 11, withdrawAllowed: false }).m;
    expect(maint.state).toBe('DISABLED');
    expect(announceOf(maint)).toBe('none');
    const fresh = step(newVipMachine(0), { ...base, verdict: 'unhealthy', now: 1, withdrawAllowed: false }).m;
    expect(fresh).toMatchObject({ state: 'DOWN', held: false });
  });
});
