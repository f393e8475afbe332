// The state merge and guard rail, with no I/O.
import { describe, expect, it } from 'vitest';
import type { RegionStatus } from '../../src/config/index.js';
import {
  exceedsGuardRail,
  mergeRegionState,
  type AgentReport,
  type MergeInput,
  type RegionView,
  type VipState,
} from '../../src/state/index.js';

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
  it('operator overrides beat health, carry weights, and end at their expiry', () => {
    const overrides = new Map([
      [
        'us-east',
        { status: 'draining' as const, weight: 5, reason: 'maintenance', who: 'alice', at: 0, expiresAt: 2000 },
      ],
    ]);
    const r = mergeRegionState(input({ overrides }));
    expect(r.views.get('us-east')).toMatchObject({ status: 'draining', weight: 5 });
    expect(r.views.get('us-east')?.reason).toBe('operator alice: maintenance');
    expect(mergeRegionState(input({ overrides, now: 2000 })).views.get('us-east')).toMatchObject({
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
  it('exceedsGuardRail refuses an operator change that would pass the limit', () => {
    const cur = new Map<string, RegionView>([...regions.keys()].map((r) => [r, { status: 'up', since: 0 }]));
    cur.set('us-east', { status: 'down', since: 0 });
    cur.set('eu-west', { status: 'down', since: 0 });
    expect(exceedsGuardRail(cur, 'sa-east', 'draining', 0.5)).toBe(true);
    expect(exceedsGuardRail(cur, 'us-east', 'up', 0.5)).toBe(false);
  });
});
