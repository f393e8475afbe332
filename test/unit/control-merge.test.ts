// The state merge and guard rail, with no I/O.
import { describe, expect, it } from 'vitest';
import type { RegionStatus } from '../../src/config/index.js';
import { exceedsGuardRail, failureStart, mergeRegionState, type MergeInput } from '../../src/state/index.js';
import { type AgentReport, type RegionView, type VantageReport, type VipState } from '../../src/contract/index.js';

const regions = new Map<string, RegionStatus>([
  ['us-east', 'up'],
  ['eu-west', 'up'],
  ['ap-southeast', 'up'],
  ['sa-east', 'up'],
]);
const pops = new Map([
  ['us-east', ['nyc']],
  ['eu-west', ['dub']],
  ['ap-southeast', ['sin']],
]);
const report = (pop: string, state: VipState, serving = true): AgentReport => ({
  pop,
  region: '',
  serving,
  sessionUp: serving,
  vips: [{ prefix: 'x/32', state }],
  at: 0,
});
const allUp = () =>
  new Map([
    ['nyc', report('nyc', 'UP')],
    ['dub', report('dub', 'UP')],
    ['sin', report('sin', 'UP')],
  ]);

function input(over: Partial<MergeInput> = {}): MergeInput {
  return {
    regions,
    pops,
    agents: allUp(),
    overrides: new Map(),
    previous: new Map(),
    now: 1000,
    maxOutShare: 0.5,
    ...over,
  };
}
const status = (r: ReturnType<typeof mergeRegionState>) =>
  Object.fromEntries([...r.views].map(([k, v]) => [k, v.status]));

describe('state merge', () => {
  it('follows the agents: UP and serving is up, DRAINING is draining, DOWN is down', () => {
    const agents = allUp();
    agents.set('dub', report('dub', 'DRAINING'));
    agents.set('sin', report('sin', 'DOWN', false));
    expect(status(mergeRegionState(input({ agents })))).toEqual({
      'us-east': 'up',
      'eu-west': 'draining',
      'ap-southeast': 'down',
      'sa-east': 'up',
    });
  });
  it('an UP VIP without a BGP session is not serving', () => {
    const agents = allUp();
    agents.set('nyc', report('nyc', 'UP', false));
    const r = mergeRegionState(input({ agents }));
    expect(r.views.get('us-east')).toMatchObject({ status: 'down' });
    expect(r.views.get('us-east')?.reason).toMatch(/no BGP session/);
  });
  it('a region whose agents stopped reporting (lease expired) is out', () => {
    const agents = allUp();
    agents.delete('sin');
    const r = mergeRegionState(input({ agents }));
    expect(r.views.get('ap-southeast')?.status).toBe('down');
    expect(r.views.get('ap-southeast')?.reason).toMatch(/lease expired/);
  });
  it('a region none of whose agents ever reported is unknown, counted as control.unknown (up by default)', () => {
    const agents = allUp();
    agents.delete('sin');
    // nyc and dub have reported (pops/<pop>); sin never has.
    const reported = new Set(['nyc', 'dub']);
    const known = (pop: string) => reported.has(pop);
    const r = mergeRegionState(input({ agents, known }));
    expect(r.views.get('ap-southeast')).toMatchObject({ status: 'up', source: 'health', unknown: true });
    expect(r.views.get('ap-southeast')?.reason).toBe('unknown: no agent of sin has reported yet (counted as up)');
    expect(r.views.get('us-east')?.unknown).toBeUndefined();
    expect(mergeRegionState(input({ agents, known, unknownAs: 'down' })).views.get('ap-southeast')).toMatchObject({
      status: 'down',
      unknown: true,
    });
    // Once it has reported, its silence is evidence: down.
    reported.add('sin');
    expect(mergeRegionState(input({ agents, known })).views.get('ap-southeast')).toMatchObject({ status: 'down' });
    expect(mergeRegionState(input({ agents, known })).views.get('ap-southeast')?.unknown).toBeUndefined();
  });
  it('operator overrides beat health, carry weights, and end at their expiry, each part on its own', () => {
    const overrides = new Map([
      ['us-east', { status: 'draining' as const, reason: 'maintenance', who: 'alice', at: 0, expiresAt: 2000 }],
    ]);
    const weights = new Map([['us-east', { weight: 5, reason: 'less', who: 'bob', at: 0, expiresAt: 3000 }]]);
    const r = mergeRegionState(input({ overrides, weights }));
    expect(r.views.get('us-east')).toMatchObject({ status: 'draining', weight: 5 });
    expect(r.views.get('us-east')?.reason).toBe('operator alice: maintenance');
    // The status ends at its expiry, the weight at its own.
    expect(mergeRegionState(input({ overrides, weights, now: 2000 })).views.get('us-east')).toMatchObject({
      status: 'up',
      weight: 5,
    });
    expect(mergeRegionState(input({ overrides, weights, now: 3000 })).views.get('us-east')).toMatchObject({
      status: 'up',
      weight: undefined,
    });
  });
  it('guard rail: holds regions newly out on health when too many would go at once', () => {
    const agents = new Map([
      ['nyc', report('nyc', 'DOWN', false)],
      ['dub', report('dub', 'DOWN', false)],
      ['sin', report('sin', 'DOWN', false)],
    ]);
    const previous = new Map<string, RegionView>([...regions.keys()].map((r) => [r, { status: 'up', since: 0 }]));
    const r = mergeRegionState(input({ agents, previous }));
    expect(r.held.sort()).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    expect(status(r)).toEqual({ 'us-east': 'up', 'eu-west': 'up', 'ap-southeast': 'up', 'sa-east': 'up' });
    expect(r.views.get('us-east')?.reason).toMatch(/held in DNS by the guard rail \(3\/4/);
  });
  it('guard rail: lets one region go, and lets forced overrides through', () => {
    const agents = allUp();
    agents.set('nyc', report('nyc', 'DOWN', false));
    expect(mergeRegionState(input({ agents })).held).toEqual([]);
    const overrides = new Map(
      ['us-east', 'eu-west', 'ap-southeast'].map((r) => [
        r,
        { status: 'down' as const, reason: 'test', who: 'bob', at: 0, force: true },
      ]),
    );
    const r = mergeRegionState(input({ overrides }));
    expect(r.held).toEqual([]);
    expect(r.views.get('eu-west')?.status).toBe('down');
  });
  it('guard rail: a region that went out moments before it trips (the same signal, first) is held again', () => {
    const agents = new Map([
      ['nyc', report('nyc', 'DOWN', false)],
      ['dub', report('dub', 'DOWN', false)],
      ['sin', report('sin', 'DOWN', false)],
    ]);
    const previous = new Map<string, RegionView>([...regions.keys()].map((r) => [r, { status: 'up', since: 0 }]));
    previous.set('us-east', { status: 'down', since: 900, source: 'health' }); // out 100 ms ago
    const r = mergeRegionState(input({ agents, previous, recentMs: 10_000 }));
    expect(r.held.sort()).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    // Out for longer than the window: a separate, earlier failure stays out.
    const old = mergeRegionState(input({ agents, previous, recentMs: 50 }));
    expect(old.held.sort()).toEqual(['ap-southeast', 'eu-west']);
    expect(old.views.get('us-east')?.status).toBe('down');
  });
  it('exceedsGuardRail refuses an operator change that would pass the limit', () => {
    const cur = new Map<string, RegionView>([...regions.keys()].map((r) => [r, { status: 'up', since: 0 }]));
    cur.set('us-east', { status: 'down', since: 0 });
    cur.set('eu-west', { status: 'down', since: 0 });
    expect(exceedsGuardRail(cur, 'sa-east', 'draining', 0.5)).toBe(true);
    expect(exceedsGuardRail(cur, 'us-east', 'up', 0.5)).toBe(false);
  });
});

describe('vantage quorum in the merge', () => {
  // Points see every region but their own; `cut` lists the regions a point cannot reach.
  const point = (name: string, cut: string[] = [], own?: string): VantageReport => ({
    point: name,
    region: own,
    at: 0,
    targets: [...regions.keys()]
      .filter((r) => r !== own)
      .map((region) => ({ region, reachable: !cut.includes(region), detail: '' })),
  });
  const vantage = (reports: VantageReport[], quorum = 1, minReports = 2) => ({
    reports: new Map(reports.map((r) => [r.point, r])),
    quorum,
    minReports,
  });

  it('takes out a region its agents call serving when no vantage point reaches it', () => {
    const r = mergeRegionState(
      input({
        vantage: vantage([
          point('nyc', ['eu-west'], 'us-east'),
          point('lon', ['eu-west']),
          point('sin', ['eu-west'], 'ap-southeast'),
        ]),
      }),
    );
    const v = r.views.get('eu-west');
    expect(v?.status).toBe('down');
    expect(v?.source).toBe('vantage');
    expect(v?.vantage).toMatchObject({ verdict: 'unreachable', reachable: [], quorum: 1 });
    expect(v?.vantage?.unreachable.sort()).toEqual(['lon', 'nyc', 'sin']);
    expect(r.views.get('us-east')?.source).toBe('health');
    expect(r.views.get('us-east')?.vantage?.verdict).toBe('reachable');
  });
  it('one point that reaches it is enough at quorum 1; quorum 2 needs two', () => {
    const reports = [point('a', ['eu-west']), point('b', ['eu-west']), point('c')];
    expect(mergeRegionState(input({ vantage: vantage(reports, 1) })).views.get('eu-west')?.status).toBe('up');
    expect(mergeRegionState(input({ vantage: vantage(reports, 2) })).views.get('eu-west')?.status).toBe('down');
  });
  it('too few opinions is no opinion: health decides, never down', () => {
    const r = mergeRegionState(input({ vantage: vantage([point('a', ['eu-west'])], 1, 2) }));
    expect(r.views.get('eu-west')).toMatchObject({ status: 'up', source: 'health' });
    expect(r.views.get('eu-west')?.vantage?.verdict).toBe('no-opinion');
  });
  it('a point that reaches nothing is blind and not counted', () => {
    const all = [...regions.keys()];
    const r = mergeRegionState(input({ vantage: vantage([point('cutoff', all), point('a'), point('b')]) }));
    expect(r.views.get('eu-west')?.vantage).toMatchObject({ verdict: 'reachable', blind: ['cutoff'] });
    const alone = mergeRegionState(input({ vantage: vantage([point('cutoff', all), point('a', ['eu-west'])]) }));
    expect(alone.views.get('eu-west')?.vantage?.verdict).toBe('no-opinion');
  });
  it('judges a region without agents on the vantage quorum alone; its configured status when there is none', () => {
    const reach = mergeRegionState(input({ vantage: vantage([point('a'), point('b')]) })).views.get('sa-east');
    expect(reach).toMatchObject({ status: 'up', source: 'vantage' });
    const cut = mergeRegionState(input({ vantage: vantage([point('a', ['sa-east']), point('b', ['sa-east'])]) }));
    expect(cut.views.get('sa-east')).toMatchObject({ status: 'down', source: 'vantage' });
    const none = mergeRegionState(input({ vantage: vantage([]) })).views.get('sa-east');
    expect(none).toMatchObject({ status: 'up', source: 'config' });
  });
  it('health down stays down whatever the vantage points say; overrides still win', () => {
    const agents = allUp();
    agents.set('nyc', report('nyc', 'DOWN', false));
    const r = mergeRegionState(input({ agents, vantage: vantage([point('a'), point('b')]) }));
    expect(r.views.get('us-east')).toMatchObject({ status: 'down', source: 'health' });
    const overrides = new Map([['eu-west', { status: 'up' as const, reason: 'known good', who: 'ann', at: 0 }]]);
    const o = mergeRegionState(
      input({ overrides, vantage: vantage([point('a', ['eu-west']), point('b', ['eu-west'])]) }),
    );
    expect(o.views.get('eu-west')).toMatchObject({ status: 'up', source: 'override' });
  });
  it('the guard rail holds when the vantage points would take too many regions out at once', () => {
    const previous = new Map<string, RegionView>([...regions.keys()].map((r) => [r, { status: 'up', since: 0 }]));
    const cut = ['us-east', 'eu-west', 'ap-southeast'];
    // Each point reaches sa-east, so none is blind: a shared false signal in the targets' paths.
    const r = mergeRegionState(input({ previous, vantage: vantage([point('a', cut), point('b', cut)]) }));
    expect(r.held.sort()).toEqual(cut.slice().sort());
    expect(status(r)).toEqual({ 'us-east': 'up', 'eu-west': 'up', 'ap-southeast': 'up', 'sa-east': 'up' });
  });
});

describe('when a failure began (gtm_failover_seconds)', () => {
  const at = (pop: string, t: number, troubleSince?: number): [string, AgentReport] => [
    pop,
    { ...report(pop, 'DOWN', false), at: t, ...(troubleSince !== undefined ? { troubleSince } : {}) },
  ];
  it("is the agent's first sign of trouble, and the last PoP of a region to fail decides", () => {
    expect(failureStart(['nyc'], new Map([at('nyc', 9000, 4000)]), new Map())).toBe(4000);
    expect(failureStart(['nyc', 'bos'], new Map([at('nyc', 9000, 4000), at('bos', 9000, 7000)]), new Map())).toBe(7000);
  });
  it('falls back to the report time, and to the last report of a PoP whose lease expired', () => {
    expect(failureStart(['nyc'], new Map([at('nyc', 9000)]), new Map())).toBe(9000);
    expect(failureStart(['nyc', 'bos'], new Map([at('nyc', 9000, 4000)]), new Map([['bos', 6000]]))).toBe(6000);
  });
  it('is unknown for a PoP never seen, or a region without PoPs', () => {
    expect(failureStart(['nyc', 'bos'], new Map([at('nyc', 9000, 4000)]), new Map())).toBeUndefined();
    expect(failureStart([], new Map(), new Map())).toBeUndefined();
  });
});
