// Calculated health (regions.X.health) over pushed signals (control.signals): three-valued logic,
// the trace explain prints, what unknown counts as, the merge reading other regions whatever their
// order, and the config checks (names exist, no circles, shapes).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText, type HealthExpr } from '../../src/config/index.js';
import { calculatedStatus, evaluate, type HealthTerms } from '../../src/state/calculated.js';
import { InMemoryRegionState, mergeRegionState } from '../../src/state/index.js';
import { explain } from '../../src/dns/index.js';
import { GeoResolver } from '../../src/geo/index.js';
import type { HealthSignal, RegionStatus } from '../../src/contract/index.js';
import { tempDir, testConfig } from '../helpers/dns.js';

const NOW = 1_000_000;
const signal = (name: string, up: boolean, expiresAt = NOW + 60_000): HealthSignal => ({
  name,
  up,
  reason: 'test',
  who: 'tester',
  at: NOW - 1000,
  expiresAt,
});
const terms = (signals: HealthSignal[], agents: RegionStatus = 'up', regions: Record<string, RegionStatus> = {}) =>
  ({
    agents,
    region: (r: string) => regions[r],
    signals: new Map(signals.map((s) => [s.name, s])),
    now: NOW,
  }) satisfies HealthTerms;
const sig = (name: string): HealthExpr => ({ kind: 'signal', name });
/** A merge's input with these regions and signals, and no agents, overrides or history. */
const noAgents = (regions: Map<string, RegionStatus>, signals: HealthSignal[]) => ({
  regions,
  pops: new Map(),
  agents: new Map(),
  overrides: new Map(),
  previous: new Map(),
  now: NOW,
  maxOutShare: 1,
  signals: new Map(signals.map((s) => [s.name, s])),
});

describe('three-valued evaluation', () => {
  const up = signal('a', true);
  const down = signal('b', false);
  const gone = signal('c', true, NOW - 1); // lease ran out: unknown, not its last value (up)
  const value = (e: HealthExpr) => evaluate(e, terms([up, down, gone])).value;

  it('reads signals: up, down, unknown when never set or past the lease', () => {
    expect([value(sig('a')), value(sig('b')), value(sig('c')), value(sig('never'))]).toEqual([
      'up',
      'down',
      'unknown',
      'unknown',
    ]);
  });

  it('all, any, not and at_least follow Kleene: unknown only while it could tip the result', () => {
    expect(value({ kind: 'all', of: [sig('a'), sig('c')] })).toBe('unknown');
    expect(value({ kind: 'all', of: [sig('b'), sig('c')] })).toBe('down');
    expect(value({ kind: 'any', of: [sig('a'), sig('c')] })).toBe('up');
    expect(value({ kind: 'any', of: [sig('b'), sig('c')] })).toBe('unknown');
    expect(value({ kind: 'any', of: [sig('b'), sig('b')] })).toBe('down');
    expect(value({ kind: 'not', of: sig('b') })).toBe('up');
    expect(value({ kind: 'not', of: sig('c') })).toBe('unknown');
    const of = [sig('a'), sig('b'), sig('c')];
    expect(value({ kind: 'at_least', n: 1, of })).toBe('up');
    expect(value({ kind: 'at_least', n: 2, of })).toBe('unknown');
    expect(value({ kind: 'at_least', n: 3, of })).toBe('down');
  });

  it('reads agents that have never reported as unknown', () => {
    expect(evaluate({ kind: 'agents' }, { ...terms([]), agents: undefined })).toEqual({
      value: 'unknown',
      trace: 'agents=unknown',
    });
  });

  it('traces every step', () => {
    const e: HealthExpr = { kind: 'all', of: [{ kind: 'agents' }, { kind: 'not', of: sig('b') }, sig('c')] };
    expect(evaluate(e, terms([up, down, gone])).trace).toBe(
      'all(agents=up, not(signal b=down)=up, signal c=unknown (lease ran out))=unknown',
    );
  });

  it('unknown counts as the rule says (up by default); a draining region stays draining when out', () => {
    const e: HealthExpr = { kind: 'all', of: [{ kind: 'agents' }, sig('c')] };
    const t = terms([gone]);
    expect(calculatedStatus({ expr: e, unknown: 'up' }, t)).toMatchObject({ status: 'up', value: 'unknown' });
    expect(calculatedStatus({ expr: e, unknown: 'down' }, t).reason).toBe(
      'calculated: all(agents=up, signal c=unknown (lease ran out))=unknown (unknown counts as down)',
    );
    expect(calculatedStatus({ expr: sig('b'), unknown: 'up' }, terms([down], 'draining')).status).toBe('draining');
  });
});

describe('calculated health in the merge', () => {
  const regions = new Map<string, RegionStatus>([
    ['us-east', 'up'],
    ['eu-west', 'up'],
    ['ap-southeast', 'up'],
  ]);
  const merge = (signals: HealthSignal[]) =>
    mergeRegionState({
      ...noAgents(regions, signals),
      calculated: new Map([
        // us-east reads eu-west, which comes after it in the config.
        ['us-east', { expr: { kind: 'region', name: 'eu-west' }, unknown: 'up' }],
        ['eu-west', { expr: { kind: 'all', of: [{ kind: 'agents' }, sig('db-eu')] }, unknown: 'up' }],
      ]),
    }).views;

  it('follows a signal through the regions that read it, in the configured order', () => {
    const down = merge([signal('db-eu', false)]);
    expect([...down].map(([r, v]) => [r, v.status, v.source])).toEqual([
      ['us-east', 'down', 'calculated'],
      ['eu-west', 'down', 'calculated'],
      ['ap-southeast', 'up', 'config'],
    ]);
    expect(down.get('us-east')?.reason).toBe('calculated: region eu-west=down');
    expect(down.get('eu-west')?.reason).toBe('calculated: all(agents=up, signal db-eu=down)=down');
    const up = merge([signal('db-eu', true)]);
    expect([up.get('us-east')?.status, up.get('eu-west')?.status]).toEqual(['up', 'up']);
    // Never set: unknown, counted as up (fail open).
    expect(merge([]).get('eu-west')?.reason).toBe(
      'calculated: all(agents=up, signal db-eu=unknown (never set))=unknown (unknown counts as up)',
    );
  });
});

describe('config', () => {
  const base = readFileSync(testConfig(tempDir()), 'utf8');
  const dir = tempDir();
  const parse = (regionHealth: Record<string, string>, signals = '{ db-eu: { lease_s: 60 }, cdn: null }') => {
    let text = base;
    for (const [region, expr] of Object.entries(regionHealth))
      text = text.replace(new RegExp(`(\\n  ${region}:\\n)`), `$1    health: ${expr}\n`);
    return parseConfigText(`${text}\ncontrol:\n  store: { file: ${dir}/s.json }\n  signals: ${signals}\n`);
  };

  it('reads expressions and signals', () => {
    const c = parse({
      'eu-west': '{ at_least: 2, of: [agents, { signal: db-eu }, { not: { signal: cdn } }], unknown: down }',
    });
    expect(c.regions.get('eu-west')?.health).toEqual({
      expr: {
        kind: 'at_least',
        n: 2,
        of: [
          { kind: 'agents' },
          { kind: 'signal', name: 'db-eu' },
          { kind: 'not', of: { kind: 'signal', name: 'cdn' } },
        ],
      },
      unknown: 'down',
    });
    expect([...(c.control?.signals ?? [])]).toEqual([
      ['db-eu', { leaseS: 60 }],
      ['cdn', { leaseS: 300 }],
    ]);
  });

  it('says what is wrong: unknown names, circles, shapes', () => {
    expect(() => parse({ 'eu-west': '{ signal: nope }' })).toThrow(
      /regions\.eu-west\.health: no signal nope in control\.signals/,
    );
    expect(() => parse({ 'eu-west': '{ region: mars }' })).toThrow(/regions\.eu-west\.health: no region mars/);
    expect(() =>
      parse({
        'eu-west': '{ region: us-east }',
        'us-east': '{ all: [agents, { region: ap-southeast }] }',
        'ap-southeast': '{ region: eu-west }',
      }),
    ).toThrow(/calculated health goes round in a circle: (\S+ -> ){3}\S+/);
    expect(() => parse({ 'eu-west': 'everything' })).toThrow(
      /regions\.eu-west\.health: a term is agents, or a mapping/,
    );
    expect(() => parse({ 'eu-west': '{ all: [agents], any: [agents] }' })).toThrow(
      /one of signal, region, all, any, not/,
    );
    expect(() => parse({ 'eu-west': '{ at_least: 3, of: [agents, { signal: cdn }] }' })).toThrow(
      /more than the 2 terms in of/,
    );
    expect(() => parse({ 'eu-west': '{ signal: cdn, unknown: maybe }' })).toThrow(
      /health\.unknown: must be up or down/,
    );
    expect(() => parse({}, '{ Bad_Name: {} }')).toThrow(/control\.signals\.Bad_Name: signal names use/);
  });
});

describe('explain', () => {
  it('prints how calculated health came out, and why a region is unknown', () => {
    const dir = tempDir();
    const config = parseConfigText(
      `${readFileSync(testConfig(dir), 'utf8')}\ncontrol:\n  store: { file: ${dir}/s.json }\n`,
    );
    const state = InMemoryRegionState.fromConfig(config);
    state.set('eu-west', { status: 'down', source: 'calculated', reason: 'calculated: signal db-eu=down' });
    state.set('us-east', {
      status: 'up',
      source: 'health',
      unknown: true,
      reason: 'unknown: no agent of nyc has reported yet (counted as up)',
    });
    const lines = explain(config, GeoResolver.open(config.geo.database), state, {
      name: 'www.example.test',
      type: 'A',
      client: '198.18.1.1',
    });
    expect(lines).toContain('health: eu-west calculated: signal db-eu=down');
    expect(lines).toContain('health: us-east unknown: no agent of nyc has reported yet (counted as up)');
  });
});

describe('a pool with a health of its own', () => {
  const regions = new Map<string, RegionStatus>([
    ['us-east', 'up'],
    ['eu-west', 'up'],
  ]);
  const merge = (signals: HealthSignal[], eu: RegionStatus = 'up') =>
    mergeRegionState({
      ...noAgents(new Map([...regions, ['eu-west', eu]]), signals),
      poolHealth: [
        {
          service: 'api',
          region: 'eu-west',
          rule: { expr: { kind: 'all', of: [{ kind: 'agents' }, sig('api-eu')] }, unknown: 'up' },
        },
        { service: 'www', region: 'eu-west', rule: { expr: sig('cdn'), unknown: 'down' } },
      ],
    }).views.get('eu-west');

  it('takes the region out for that name alone, and says why', () => {
    const v = merge([signal('api-eu', false), signal('cdn', true)]);
    expect(v?.status).toBe('up');
    expect(v?.poolsOut).toEqual({ api: 'pool health: all(agents=up, signal api-eu=down)=down' });
    // Unknown counts as the pool's rule says: cdn never set, counted as down.
    expect(merge([signal('api-eu', true)])?.poolsOut).toEqual({
      www: 'pool health: signal cdn=unknown (never set) (unknown counts as down)',
    });
    expect(merge([signal('api-eu', true), signal('cdn', true)])?.poolsOut).toBeUndefined();
  });

  it('a region out is out for every name: no pool is named on it', () => {
    expect(merge([signal('api-eu', false)], 'down')?.poolsOut).toBeUndefined();
  });

  it('config: read per pool, every name checked', () => {
    const dir = tempDir();
    const base = readFileSync(testConfig(dir), 'utf8');
    const parse = (health: string) =>
      parseConfigText(
        `${base}  api:\n    name: api.example.test\n    pools: [us-east, { region: eu-west, health: ${health} }]\n` +
          `control:\n  store: { file: ${dir}/s.json }\n  signals: { api-eu: {} }\n`,
      );
    const api = parse('{ all: [agents, { signal: api-eu }] }').services.find((s) => s.key === 'api');
    expect([...(api?.poolHealth ?? [])]).toEqual([
      ['eu-west', { expr: { kind: 'all', of: [{ kind: 'agents' }, sig('api-eu')] }, unknown: 'up' }],
    ]);
    expect(() => parse('{ signal: nope }')).toThrow(
      /services\.api\.pools\[1\]\.health: no signal nope in control\.signals/,
    );
    expect(() => parse('{ region: mars }')).toThrow(/services\.api\.pools\[1\]\.health: no region mars/);
    expect(() => parse('maybe')).toThrow(/services\.api\.pools\[1\]\.health: a term is agents, or a mapping/);
  });

  it('explain names the pool and skips the region for that name only', () => {
    const dir = tempDir();
    const config = parseConfigText(
      `${readFileSync(testConfig(dir), 'utf8')}  api:\n    name: api.example.test\n    pools: [us-east, { region: eu-west, health: { signal: api-eu } }]\n` +
        `control:\n  store: { file: ${dir}/s.json }\n  signals: { api-eu: {} }\n`,
    );
    const state = InMemoryRegionState.fromConfig(config);
    state.set('eu-west', { status: 'up', source: 'health', poolsOut: { api: 'pool health: signal api-eu=down' } });
    const geo = GeoResolver.open(config.geo.database);
    const london = (name: string) => explain(config, geo, state, { name, type: 'A', client: '198.18.1.1' });
    expect(london('api.example.test')).toContain('pool: eu-west pool health: signal api-eu=down');
    expect(london('api.example.test').find((l) => l.startsWith('chosen:'))).toBe('chosen: us-east');
    expect(london('www.example.test').find((l) => l.startsWith('chosen:'))).toBe('chosen: eu-west');
  });
});
