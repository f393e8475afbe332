// Capacity-aware answers, with no sockets: the shed share's dynamics (rate, hysteresis band,
// ceiling, decay), a region's load from its PoPs, which clients a share moves (and that a growing
// share only adds to them), the merge carrying both, and the config and contract rules.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { entryProblem } from '../../src/contract/index.js';
import { applyShed, shedDraw, type Client } from '../../src/policy/index.js';
import { nextShed, regionLoad, type CapacityRule } from '../../src/state/capacity.js';
import { mergeRegionState } from '../../src/state/index.js';
import type { AgentReport } from '../../src/contract/index.js';
import { EXAMPLE, tempDir, testConfig } from '../helpers/dns.js';
import { explain } from '../../src/dns/explain.js';
import { GeoResolver } from '../../src/geo/index.js';
import { InMemoryRegionState } from '../../src/state/index.js';

const RULE: CapacityRule = { shedAbove: 0.9, releaseBelow: 0.7, maxShed: 0.6, ratePerS: 0.1 };

/** The share over time: one merge a second at these loads. */
function run(loads: (number | undefined)[], rule = RULE): number[] {
  let view: { shed?: number; shedAt?: number } | undefined;
  return loads.map((load, i) => {
    const next = nextShed(view, load, rule, i * 1000);
    view = next ?? (view?.shed ? { shed: 0 } : undefined);
    return next?.shed ?? 0;
  });
}

describe('the shed share', () => {
  it('starts at once above the threshold and grows at the rate, up to the ceiling', () => {
    expect(run([0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95])).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6, 0.6]);
  });

  it('holds inside the band and shrinks below it, to nothing (hysteresis)', () => {
    expect(run([0.95, 0.95, 0.8, 0.8, 0.75, 0.6, 0.6, 0.6])).toEqual([0.1, 0.2, 0.2, 0.2, 0.2, 0.1, 0, 0]);
    // The band alone never starts shedding.
    expect(run([0.85, 0.89, 0.8])).toEqual([0, 0, 0]);
  });

  it('decays when the load is no longer reported', () => {
    expect(run([0.95, 0.95, undefined, undefined, undefined])).toEqual([0.1, 0.2, 0.1, 0, 0]);
  });

  it('moves at most 2 s worth between two merges', () => {
    const after = nextShed({ shed: 0.2, shedAt: 0 }, 0.99, RULE, 60_000);
    expect(after?.shed).toBe(0.4);
  });
});

describe("a region's load", () => {
  const r = (pop: string, load?: number): AgentReport => ({
    pop,
    region: 'eu-west',
    serving: true,
    sessionUp: true,
    vips: [],
    at: 0,
    ...(load === undefined ? {} : { load }),
  });
  it('is the mean of the PoPs that report one', () => {
    expect(regionLoad([r('a', 0.5), r('b', 1.1), r('c')])).toBeCloseTo(0.8);
    expect(regionLoad([r('a')])).toBeUndefined();
  });

  it('goes through the merge with the shed share, for regions with a rule', () => {
    const { views } = mergeRegionState({
      regions: new Map([
        ['eu-west', 'up'],
        ['us-east', 'up'],
      ]),
      pops: new Map([
        ['eu-west', ['dub']],
        ['us-east', ['nyc']],
      ]),
      agents: new Map([
        ['dub', r('dub', 0.954)],
        ['nyc', { ...r('nyc', 0.99), region: 'us-east' }],
      ]),
      overrides: new Map(),
      previous: new Map(),
      now: 1000,
      maxOutShare: 0.5,
      capacity: new Map([['eu-west', RULE]]),
    });
    expect(views.get('eu-west')).toMatchObject({ load: 0.95, shed: 0.1, shedAt: 1000 });
    expect(views.get('us-east')?.load).toBe(0.99);
    expect(views.get('us-east')?.shed).toBeUndefined(); // no rule: never shed
  });
});

describe('which clients a share moves', () => {
  const client = (i: number): Client => ({
    address: Uint8Array.of(10, (i >> 8) & 255, i & 255, 7),
    family: 4,
    geoPrefix: 24,
  });
  const up = () => 'up' as const;
  const moved = (share: number) => {
    const out = new Set<number>();
    for (let i = 0; i < 20_000; i++) {
      const s = applyShed(['eu-west', 'us-east', 'ap-southeast'], client(i), up, (r) => (r === 'eu-west' ? share : 0));
      if (s?.from?.outcome === 'moved') {
        expect(s.candidates).toEqual(['us-east', 'eu-west', 'ap-southeast']);
        out.add(i);
      }
    }
    return out;
  };

  it('moves about the share, by subnet, and a larger share only adds subnets', () => {
    const at30 = moved(0.3);
    const at50 = moved(0.5);
    expect(at30.size / 20_000).toBeGreaterThan(0.29);
    expect(at30.size / 20_000).toBeLessThan(0.31);
    expect(at50.size / 20_000).toBeGreaterThan(0.49);
    expect(at50.size / 20_000).toBeLessThan(0.51);
    for (const i of at30) expect(at50.has(i)).toBe(true);
    // The same /24 draws the same: the host part does not matter.
    expect(shedDraw({ ...client(5), address: Uint8Array.of(10, 0, 5, 200) })).toBe(shedDraw(client(5)));
  });

  it('sheds the first healthy candidate, past down ones, and keeps it when no other is up', () => {
    const only =
      (...rs: string[]) =>
      (r: string) =>
        rs.includes(r) ? ('up' as const) : ('down' as const);
    const all = () => 1;
    const s = applyShed(['us-east', 'eu-west', 'ap-southeast'], client(1), only('eu-west', 'ap-southeast'), all);
    expect(s?.candidates).toEqual(['us-east', 'ap-southeast', 'eu-west']);
    expect(s?.from).toMatchObject({ region: 'eu-west', outcome: 'moved', to: 'ap-southeast' });
    expect(s?.scope).toBe(24);
    const alone = applyShed(['eu-west', 'us-east'], client(1), only('eu-west'), all);
    expect(alone?.from?.outcome).toBe('nowhere');
    expect(alone?.candidates).toEqual(['eu-west', 'us-east']);
    expect(applyShed(['eu-west'], undefined, up, all)).toBeUndefined();
    expect(applyShed(['eu-west', 'us-east'], client(1), up, () => 0)).toBeUndefined();
  });
});

describe('explain', () => {
  it("says the share a region sheds and this client's subnet's fate", () => {
    const config = parseConfigText(readFileSync(testConfig(tempDir()), 'utf8'));
    const state = InMemoryRegionState.fromConfig(config);
    state.set('eu-west', { capacity: { load: 0.97, shed: 1, shedAt: 0 } });
    const lines = explain(config, GeoResolver.open(config.geo.database), state, {
      client: '198.18.16.9', // Paris
      name: 'www.example.test',
      type: 'A',
    });
    expect(lines).toContain(
      "capacity: eu-west sheds 100% of its answers under load; this client's subnet is shed to us-east",
    );
    expect(lines).toContain('chosen: us-east');
  });
});

describe('capacity in the config and the contract', () => {
  const base = readFileSync(EXAMPLE, 'utf8');
  it('reads a region rule with its defaults, and refuses a band upside down', () => {
    const c = parseConfigText(base.replace('  eu-west:\n', '  eu-west:\n    capacity: { shed_above: 0.8 }\n'));
    expect(c.regions.get('eu-west')?.capacity).toEqual({
      shedAbove: 0.8,
      releaseBelow: 0.64,
      maxShed: 0.8,
      ratePerS: 0.05,
    });
    expect(() =>
      parseConfigText(
        base.replace('  eu-west:\n', '  eu-west:\n    capacity: { shed_above: 0.8, release_below: 0.9 }\n'),
      ),
    ).toThrow(/regions\.eu-west\.capacity\.release_below: must not be above shed_above/);
  });

  it("checks a heartbeat's load", () => {
    const report = { pop: 'dub', region: 'eu-west', serving: true, sessionUp: true, vips: [], at: 1 };
    expect(entryProblem('agents/dub', { ...report, load: 0.7 })).toBeUndefined();
    expect(entryProblem('agents/dub', { ...report, load: -1 })).toMatch(/load: a share of capacity/);
  });
});
