// The answer memo must be invisible on the wire: every response served from it is byte for
// byte what a fresh Authority (empty memo) builds for the same query at the same moment,
// while IDs, letter case, ECS addresses, EDNS shapes and region health keep changing.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText, type RegionStatus } from '../../src/config/index.js';
import { Authority } from '../../src/dns/index.js';
import { buildQuery, TYPE } from '../../src/wire/index.js';
import { GeoResolver } from '../../src/geo/index.js';
import { InMemoryRegionState } from '../../src/state/index.js';
import { tempDir, testConfig } from '../helpers/dns.js';
import { rng } from '../helpers/rng.js';

const config = parseConfigText(readFileSync(testConfig(tempDir()), 'utf8'));
const geo = GeoResolver.open(config.geo.database);

const NAMES = ['www', 'app', 'docs', 'static', 'mail', 'ns1', 'nothere', '', 'a.b.www'];
const TYPES = [TYPE.A, TYPE.AAAA, TYPE.MX, TYPE.TXT, TYPE.SOA, TYPE.NS, TYPE.CNAME, TYPE.ANY];
// Test-database networks (London, San Francisco, Singapore, Sydney, ...) and unknown ones.
const ECS_NETS = [
  [198, 18, 1],
  [198, 18, 2],
  [198, 18, 4],
  [198, 18, 6],
  [198, 18, 9],
  [203, 0, 113],
  [10, 1, 2],
];
const REGIONS = ['us-east', 'eu-west', 'ap-southeast'];

describe('answer memo', () => {
  it('serves the bytes a fresh Authority builds, through changing queries and health (seed 2026)', () => {
    const rand = rng(2026);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)] as T;
    const state = InMemoryRegionState.fromConfig(config);
    const memoised = new Authority(config, geo, state);
    let compared = 0;
    for (let i = 0; i < 3000; i++) {
      if (rand() < 0.05) state.set(pick(REGIONS), { status: pick<RegionStatus>(['up', 'down', 'draining']) });
      const label = pick(NAMES);
      const name = [label, 'example.test'].filter(Boolean).join('.');
      // 0x20: a random letter case per query, which the answer must echo.
      const cased = [...name].map((c) => (rand() < 0.5 ? c.toUpperCase() : c)).join('');
      const net = pick(ECS_NETS);
      const shape = rand();
      const q = buildQuery(cased, pick(TYPES), {
        id: Math.floor(rand() * 65536),
        rd: rand() < 0.5,
        edns: shape < 0.7 ? { udpSize: pick([512, 1232, 4096]) } : undefined,
        ecs:
          shape < 0.5
            ? { address: Uint8Array.from([...net, Math.floor(rand() * 256)]), sourcePrefix: pick([24, 32, 20]) }
            : undefined,
      });
      const tcp = rand() < 0.2;
      const resolver = pick(['127.0.0.1', '198.18.7.53', '198.18.5.53']);
      const got = memoised.respond(q, resolver, tcp).response as Buffer;
      const fresh = new Authority(config, geo, state).respond(q, resolver, tcp).response as Buffer;
      expect(got.toString('hex'), `query ${i}: ${cased} from ${resolver}`).toBe(fresh.toString('hex'));
      compared++;
    }
    expect(compared).toBe(3000);
    // Most of them came from the memo, so the comparison above tested it.
    expect(memoised.memoHits).toBeGreaterThan(1500);
  });

  it('serves a sticky and a fenced name per client, and follows weight changes (seed 7)', () => {
    const extra = [
      '  sticky:',
      '    name: sticky.example.test',
      '    pools: [us-east, eu-west, ap-southeast]',
      '    policy: { weighted: { sticky: true } }',
      '  fenced:',
      '    name: fenced.example.test',
      '    pools: [us-east, eu-west, ap-southeast]',
      '    fence:',
      '      - networks: [198.18.1.0/24]',
      '        pin: [ap-southeast]',
      '      - networks: [198.18.0.0/16]',
      '        exclude: [us-east]',
      '',
    ].join('\n');
    const withSticky = parseConfigText(readFileSync(testConfig(tempDir()), 'utf8') + extra);
    const rand = rng(7);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)] as T;
    const state = InMemoryRegionState.fromConfig(withSticky);
    const memoised = new Authority(withSticky, geo, state);
    for (let i = 0; i < 2000; i++) {
      const r = rand();
      if (r < 0.02) state.setServiceWeights({ [`sticky/${pick(REGIONS)}`]: Math.floor(rand() * 10) });
      else if (r < 0.04) state.set(pick(REGIONS), { weight: Math.floor(rand() * 10) });
      else if (r < 0.05) state.set(pick(REGIONS), { status: pick<RegionStatus>(['up', 'down']) });
      const q = buildQuery(`${pick(['sticky', 'fenced'])}.example.test`, TYPE.A, {
        id: i,
        edns: { udpSize: 1232 },
        ecs: { address: Uint8Array.from([...pick(ECS_NETS), 0]), sourcePrefix: 24 },
      });
      const got = memoised.respond(q, '127.0.0.1', false).response as Buffer;
      const fresh = new Authority(withSticky, geo, state).respond(q, '127.0.0.1', false).response as Buffer;
      expect(got.toString('hex'), `query ${i}`).toBe(fresh.toString('hex'));
    }
    expect(memoised.memoHits).toBeGreaterThan(1000);
  });

  it('forgets every answer on reload', () => {
    const state = InMemoryRegionState.fromConfig(config);
    const a = new Authority(config, geo, state);
    const q = buildQuery('static.example.test', TYPE.A, { id: 1 });
    a.respond(q, '127.0.0.1', false);
    const changed = parseConfigText(
      readFileSync(testConfig(tempDir()), 'utf8').replace('value: 192.0.2.80', 'value: 192.0.2.81'),
    );
    a.reload(changed);
    const r = a.respond(q, '127.0.0.1', false).response as Buffer;
    expect([...r.subarray(-4)]).toEqual([192, 0, 2, 81]);
  });
});

describe('answer memo under a flood of names', () => {
  it('stays bounded when every query asks a new name (random-subdomain attack)', () => {
    const state = InMemoryRegionState.fromConfig(config);
    const a = new Authority(config, geo, state);
    for (let i = 0; i < 30_000; i++)
      a.respond(buildQuery(`x${i}.example.test`, TYPE.A, { id: i & 0xffff }), '127.0.0.1', false);
    const kept = (a as unknown as { memo: { size: number } }).memo.size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(10_000);
    // And it still answers from the memo afterwards.
    const before = a.memoHits;
    const q = buildQuery('www.example.test', TYPE.A, { id: 7 });
    a.respond(q, '127.0.0.1', false);
    a.respond(q, '127.0.0.1', false);
    expect(a.memoHits).toBe(before + 1);
  });

  it('keeps the names users ask while a flood of one-off names 10x its size goes by', () => {
    const a = new Authority(config, geo, InMemoryRegionState.fromConfig(config));
    const popular = ['www', 'static', 'app', 'docs', 'mail'].map((n) => `${n}.example.test`);
    let asked = 0;
    const hitsBefore = a.memoHits;
    for (let i = 0; i < 100_000; i++) {
      a.respond(buildQuery(`r${i}.example.test`, TYPE.A, { id: i & 0xffff }), '127.0.0.1', false);
      if (i % 100 === 0) {
        a.respond(buildQuery(popular[asked++ % popular.length] as string, TYPE.A, { id: 1 }), '127.0.0.1', false);
      }
    }
    // 1000 asks of 5 names: each name's first two asks may miss, every later one is a hit.
    expect(a.memoHits - hitsBefore).toBeGreaterThanOrEqual(asked - 2 * popular.length);
    const memo = a.cacheStats().find((c) => c.cache === 'answers')?.stats;
    expect(memo?.evictions).toBeGreaterThan(80_000);
    expect(memo?.size).toBeLessThanOrEqual(10_000);
  });
});
