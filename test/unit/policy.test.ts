// Every policy and the fail-open rule, with no sockets.
import { describe, expect, it } from 'vitest';
import { parseConfigText, type Config, type RegionStatus, type Service } from '../../src/config/index.js';
import {
  allCandidates,
  order,
  select,
  weightTableOf,
  type Client,
  type PolicyContext,
  type WeightTable,
} from '../../src/policy/index.js';
import { EXAMPLE } from '../helpers/dns.js';
import { distanceKm } from '../../src/geo/index.js';
import { manyRegionsConfig } from '../../bench/scale-configs.js';
import { readFileSync } from 'node:fs';
import { rng } from '../helpers/rng.js';

const base = readFileSync(EXAMPLE, 'utf8');

function serviceWith(policyYaml: string, extra = ''): { config: Config; service: Service } {
  const config = parseConfigText(
    `${base}  t:\n    name: t.example.test\n    pools: [us-east, eu-west, ap-southeast]\n${extra}    policy:\n${policyYaml}`,
  );
  return { config, service: config.services.find((s) => s.key === 't') as Service };
}

function ctx(config: Config, weights: Record<string, number> = {}, random = Math.random): PolicyContext {
  return { regions: config.regions, weightOf: (r) => weights[r] ?? config.regions.get(r)?.weight ?? 0, random };
}

function client(ip: number[], loc: Client['location'], geoPrefix = 24): Client {
  return { address: Uint8Array.from(ip), family: 4, location: loc, geoPrefix };
}

const london = client([198, 18, 1, 1], {
  country: 'GB',
  continent: 'EU',
  subdivision: 'GB-ENG',
  lat: 51.5,
  lon: -0.12,
  coarse: false,
});
const tokyo = client([198, 18, 7, 1], { country: 'JP', continent: 'AS', lat: 35.68, lon: 139.69, coarse: false });
const california = client([198, 18, 2, 1], {
  country: 'US',
  continent: 'NA',
  subdivision: 'US-CA',
  lat: 37.77,
  lon: -122.42,
  coarse: false,
});
const berlin = client([198, 18, 5, 1], { country: 'DE', continent: 'EU', lat: 52.5, lon: 13.4, coarse: true });
const pools = ['us-east', 'eu-west', 'ap-southeast'];

describe('nearest', () => {
  it('orders regions by great-circle distance from the client', () => {
    const { config, service } = serviceWith('      nearest: {}\n');
    expect(order(service.policy, pools, london, ctx(config)).candidates).toEqual([
      'eu-west',
      'us-east',
      'ap-southeast',
    ]);
    // Tokyo is nearer Dublin (~9,600 km) than New York (~10,850 km).
    expect(order(service.policy, pools, tokyo, ctx(config)).candidates).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    expect(order(service.policy, pools, california, ctx(config)).candidates[0]).toBe('us-east');
  });
  it('keeps the configured order when the location is unknown, and reports the scope', () => {
    const { config, service } = serviceWith('      nearest: {}\n');
    const o = order(service.policy, pools, client([10, 0, 0, 1], undefined, 8), ctx(config));
    expect(o.candidates).toEqual(pools);
    expect(o.scope).toBe(8);
  });
});

describe('nearest with a geoproximity bias', () => {
  const km = (r: string, c: Client) => {
    const reg = parseConfigText(base).regions.get(r) as { lat: number; lon: number };
    return distanceKm(c.location?.lat as number, c.location?.lon as number, reg.lat, reg.lon);
  };

  it('counts a region distance as distance x (1 - bias/100): a positive bias wins clients over', () => {
    // California: New York ~4,130 km, Dublin ~8,180 km. Dublin at +60 counts 0.4 x 8,180 = 3,270 km.
    expect(km('eu-west', california) * 0.4).toBeLessThan(km('us-east', california));
    const { config, service } = serviceWith('      nearest: { bias: { eu-west: 60 } }\n');
    const o = order(service.policy, pools, california, ctx(config));
    expect(o.candidates).toEqual(['eu-west', 'us-east', 'ap-southeast']);
    expect(o.rule).toMatch(/eu-west 3\d{3} km biased \(8\d{3} km, bias \+60\), us-east 4\d{3} km, /);
    // +40 is not enough (0.6 x 8,180 = 4,910 km > 4,130 km): the plain order stays.
    const weak = serviceWith('      nearest: { bias: { eu-west: 40 } }\n');
    expect(order(weak.service.policy, pools, california, ctx(weak.config)).candidates[0]).toBe('us-east');
  });

  it('a negative bias shrinks a catchment; clients at the region itself stay', () => {
    const { config, service } = serviceWith('      nearest: { bias: { eu-west: -99 } }\n');
    // London: Dublin ~460 km x 1.99 = ~915 km, still nearer than New York (~5,570 km).
    expect(order(service.policy, pools, london, ctx(config)).candidates[0]).toBe('eu-west');
    // Tokyo: Dublin (~9,600 km) was second; at x1.99 it falls behind New York (~10,850 km).
    expect(order(service.policy, pools, tokyo, ctx(config)).candidates).toEqual(['ap-southeast', 'us-east', 'eu-west']);
  });

  it('is refused outside -99..99 or for a region not in the pools', () => {
    expect(() => serviceWith('      nearest: { bias: { eu-west: 100 } }\n')).toThrow(/bias\.eu-west/);
    expect(() => serviceWith('      nearest: { bias: { mars: 10 } }\n')).toThrow(
      /bias\.mars: not one of this service's pools/,
    );
  });
});

describe('geo', () => {
  const policy = `      geo:
        subdivisions: { US-CA: [ap-southeast, us-east] }
        countries: { GB: [eu-west, us-east] }
        continents: { EU: [eu-west, ap-southeast] }
        default: [us-east, eu-west]
`;
  it('prefers subdivision, then country, then continent, then default', () => {
    const { config, service } = serviceWith(policy);
    const c = ctx(config);
    expect(order(service.policy, pools, california, c)).toMatchObject({
      candidates: ['ap-southeast', 'us-east'],
      rule: 'geo subdivision US-CA',
    });
    expect(order(service.policy, pools, london, c)).toMatchObject({
      candidates: ['eu-west', 'us-east'],
      rule: 'geo country GB',
    });
    expect(order(service.policy, pools, berlin, c)).toMatchObject({
      candidates: ['eu-west', 'ap-southeast'],
      rule: 'geo continent EU',
    });
    expect(order(service.policy, pools, tokyo, c).candidates).toEqual(['us-east', 'eu-west']);
    expect(order(service.policy, pools, undefined, c).rule).toMatch(/location unknown/);
  });
});

describe('latency', () => {
  const policy = `      latency:
        networks:
          198.18.0.0/16: { us-east: 80, eu-west: 20 }
          198.18.1.0/24: { us-east: 90, eu-west: 15, ap-southeast: 200 }
        countries:
          JP: { ap-southeast: 70, us-east: 150, eu-west: 240 }
`;
  it('uses the most specific network, then the country row, then nearest', () => {
    const { config, service } = serviceWith(policy);
    const c = ctx(config);
    expect(order(service.policy, pools, london, c)).toMatchObject({
      candidates: ['eu-west', 'us-east', 'ap-southeast'],
      scope: 24,
    });
    const o16 = order(service.policy, pools, client([198, 18, 9, 9], undefined), c);
    expect(o16).toMatchObject({ candidates: ['eu-west', 'us-east', 'ap-southeast'], scope: 16 });
    expect(o16.rule).toMatch(/198\.18\.0\.0\/16/);
    const jp = client([203, 0, 113, 1], tokyo.location);
    expect(order(service.policy, pools, jp, c).candidates).toEqual(['ap-southeast', 'us-east', 'eu-west']);
    const o = order(service.policy, pools, client([203, 0, 113, 1], berlin.location), c);
    expect(o.candidates[0]).toBe('eu-west');
    expect(o.rule).toMatch(/no measurement/);
  });
});

describe('weighted', () => {
  it('draws the first candidate in proportion to weight and never picks weight 0 first', () => {
    const { config, service } = serviceWith('      weighted: {}\n');
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const c = ctx(config, { 'us-east': 3, 'eu-west': 1, 'ap-southeast': 0 }, random);
    const firsts: Record<string, number> = {};
    for (let i = 0; i < 20_000; i++) {
      const o = order(service.policy, pools, undefined, c);
      firsts[o.candidates[0] as string] = (firsts[o.candidates[0] as string] ?? 0) + 1;
      expect(o.candidates.at(-1)).toBe('ap-southeast');
    }
    expect(firsts['ap-southeast']).toBeUndefined();
    expect((firsts['us-east'] as number) / 20_000).toBeGreaterThan(0.72);
    expect((firsts['us-east'] as number) / 20_000).toBeLessThan(0.78);
  });
  it('draws whole orders in proportion to weight without replacement, one object per order', () => {
    const { config, service } = serviceWith('      weighted: {}\n');
    // Successive draws feed one order: a plain LCG's are correlated enough to skew it.
    const random = rng(7);
    const w: Record<string, number> = { 'us-east': 3, 'eu-west': 2, 'ap-southeast': 1 };
    const base = ctx(config, w, random);
    // Kept between draws, as the DNS keeps it until a state or weight change.
    const tables = new Map<string[], WeightTable>();
    const c = {
      ...base,
      weightTable: (regions: string[]) =>
        tables.get(regions) ?? tables.set(regions, weightTableOf(regions, base.weightOf)).get(regions)!,
    };
    const n = 60_000;
    const seen = new Map<string, { count: number; object: unknown }>();
    for (let i = 0; i < n; i++) {
      const o = order(service.policy, pools, undefined, c);
      const key = o.candidates.join(',');
      const s = seen.get(key);
      if (s) {
        s.count++;
        expect(o).toBe(s.object); // the same permutation is the same ordering object
      } else seen.set(key, { count: 1, object: o });
    }
    expect(seen.size).toBe(6);
    for (const [key, { count }] of seen) {
      const [a, b] = key.split(',') as [string, string];
      const p = ((w[a] as number) / 6) * ((w[b] as number) / (6 - (w[a] as number)));
      expect(Math.abs(count / n - p), key).toBeLessThan(0.01);
    }
  });
  it('returns N answers when the service asks for them', () => {
    const { config, service } = serviceWith('      weighted: {}\n', '    answers: 2\n');
    const o = order(service.policy, pools, undefined, ctx(config));
    expect(select(service, o.candidates, 4, () => 'up').pools).toHaveLength(2);
  });
});

describe('weighted over many regions (the head drawn from running sums)', () => {
  const config = parseConfigText(manyRegionsConfig(20));
  const regions = [...config.regions.keys()];
  const weights: Record<string, number> = Object.fromEntries(regions.map((r) => [r, 1]));
  Object.assign(weights, { r0: 10, r1: 5, r19: 0 });
  const policy = { kind: 'weighted' as const };

  it('draws first and second in proportion to weight among those not drawn, zero weight never ahead', () => {
    const c = ctx(config, weights, rng(7));
    const firsts: Record<string, number> = {};
    let afterR0 = 0;
    let r1AfterR0 = 0;
    for (let i = 0; i < 40_000; i++) {
      const o = order(policy, regions, undefined, c);
      const [first, second] = o.candidates as [string, string];
      firsts[first] = (firsts[first] ?? 0) + 1;
      if (first === 'r0') {
        afterR0++;
        if (second === 'r1') r1AfterR0++;
      }
      expect(o.candidates).not.toContain('r19');
      if (i < 200) {
        const all = allCandidates(o);
        expect(new Set(all).size).toBe(20);
        expect(all.at(-1)).toBe('r19');
        expect(all.slice(0, o.candidates.length)).toEqual(o.candidates);
      }
    }
    expect((firsts.r0 as number) / 40_000).toBeCloseTo(10 / 32, 1.5);
    expect((firsts.r1 as number) / 40_000).toBeCloseTo(5 / 32, 1.5);
    expect(r1AfterR0 / afterR0).toBeCloseTo(5 / 22, 1.5);
  });

  it('draws the head whole when one weight dwarfs the rest, and still orders every region', () => {
    const c = ctx(config, { ...weights, r0: 1e9 });
    const o = order(policy, regions, undefined, c);
    expect(o.candidates[0]).toBe('r0');
    expect(o.candidates).toHaveLength(8);
    expect(new Set(allCandidates(o)).size).toBe(20);
  });
});

describe('weighted, sticky (rendezvous hashing)', () => {
  const five = ['r0', 'r1', 'r2', 'r3', 'r4'];
  const policy = { kind: 'weighted' as const, sticky: { v4: 24, v6: 56 } };
  const ctxOf = (w: Record<string, number>): PolicyContext => ({
    regions: new Map(),
    weightOf: (r) => w[r] ?? 1,
    random: () => {
      throw new Error('a sticky draw is never random');
    },
  });
  /** The first healthy region of each of n /24 subnets (10.0.0.0/24, 10.0.1.0/24, ...). */
  const firsts = (n: number, w: Record<string, number>, down = new Set<string>()) => {
    const c = ctxOf(w);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const sub: Client = {
        address: Uint8Array.from([10 + (i >>> 16), (i >>> 8) & 255, i & 255, 0]),
        family: 4,
        geoPrefix: 24,
      };
      out.push(order(policy, five, sub, c).candidates.find((r) => !down.has(r)) as string);
    }
    return out;
  };
  it('1M subnets over 5 regions: a failure moves only its share, a weight change what the weights say', () => {
    const n = 1_000_000;
    const even = firsts(n, {});
    const share = (xs: string[], r: string) => xs.filter((x) => x === r).length / n;
    for (const r of five) expect(Math.abs(share(even, r) - 0.2)).toBeLessThan(0.01);
    // r2 down: exactly its subnets move (spread over the others in proportion), no other moves.
    const failed = firsts(n, {}, new Set(['r2']));
    let moved = 0;
    let wrong = 0;
    for (let i = 0; i < n; i++) {
      if (even[i] === failed[i]) continue;
      if (even[i] !== 'r2') wrong++;
      moved++;
    }
    expect(wrong).toBe(0);
    expect(Math.abs(moved / n - share(even, 'r2'))).toBeLessThan(0.001);
    // r0's weight 1 -> 2: its share 20% -> 33.3%; only subnets moving to r0 move, ~13.3% of all.
    const heavier = firsts(n, { r0: 2 });
    let toR0 = 0;
    let elsewhere = 0;
    for (let i = 0; i < n; i++) {
      if (even[i] === heavier[i]) continue;
      if (heavier[i] === 'r0') toR0++;
      else elsewhere++;
    }
    expect(elsewhere).toBe(0);
    expect(Math.abs(share(heavier, 'r0') - 1 / 3)).toBeLessThan(0.01);
    expect(Math.abs(toR0 / n - (1 / 3 - 0.2))).toBeLessThan(0.01);
    // Nothing moves back and forth: the same inputs give the same answer.
    expect(firsts(1000, {})).toEqual(even.slice(0, 1000));
  }, 60_000);
  it('hashes the subnet, not the host; the scope says so; without a client it draws at random', () => {
    const c = ctxOf({});
    const a = order(policy, five, { address: Uint8Array.from([192, 0, 2, 1]), family: 4, geoPrefix: 24 }, c);
    const b = order(policy, five, { address: Uint8Array.from([192, 0, 2, 200]), family: 4, geoPrefix: 24 }, c);
    expect(b.candidates).toEqual(a.candidates);
    expect(a.scope).toBe(24);
    expect(a.rule).toMatch(/^weighted sticky by \/24 \(rendezvous hashing\) r0=1/);
    const six = new Uint8Array(16).fill(0x20);
    const v6 = order(policy, five, { address: six, family: 6, geoPrefix: 48 }, c);
    expect(v6.scope).toBe(56);
    const random = order(policy, five, undefined, { ...c, random: () => 0.5 });
    expect(random.scope).toBe(0);
    const { service } = serviceWith('      weighted: { sticky: { ipv4_prefix: 20 } }\n');
    expect(service.policy).toEqual({ kind: 'weighted', regions: undefined, sticky: { v4: 20, v6: 56 } });
    expect(() => serviceWith('      weighted: { sticky: { ipv4_prefix: 40 } }\n')).toThrow(/sticky\.ipv4_prefix/);
  });
});

describe('failover', () => {
  it('walks the priority chain, nested policies included', () => {
    const { config, service } = serviceWith('      failover: [eu-west, { nearest: {} }]\n');
    const o = order(service.policy, pools, tokyo, ctx(config));
    expect(o.candidates).toEqual(['eu-west', 'ap-southeast', 'us-east']);
    const status: Record<string, RegionStatus> = { 'eu-west': 'down', 'ap-southeast': 'up', 'us-east': 'up' };
    expect(select(service, o.candidates, 4, (r) => status[r] as RegionStatus).pools.map((p) => p.region)).toEqual([
      'ap-southeast',
    ]);
  });
});

describe('all-healthy', () => {
  it('answers every healthy region', () => {
    const { config, service } = serviceWith('      all-healthy: {}\n');
    const o = order(service.policy, pools, undefined, ctx(config));
    const s = select(service, o.candidates, 6, (r) => (r === 'eu-west' ? 'draining' : 'up'));
    expect(s.pools.map((p) => p.region)).toEqual(['us-east', 'ap-southeast']);
    expect(service.answers).toBe(0);
  });
});

describe('health filter and fail-open', () => {
  it('skips down and draining regions', () => {
    const { service } = serviceWith('      nearest: {}\n');
    const s = select(service, ['eu-west', 'us-east', 'ap-southeast'], 4, (r) =>
      r === 'eu-west' ? 'down' : r === 'us-east' ? 'draining' : 'up',
    );
    expect(s.pools.map((p) => p.region)).toEqual(['ap-southeast']);
    expect(s.failOpen).toBe('none');
  });
  it('fails open to the last resort when nothing is up', () => {
    const { service } = serviceWith('      nearest: {}\n', '    last_resort: [us-east]\n');
    const s = select(service, ['eu-west', 'us-east'], 4, () => 'down');
    expect(s).toMatchObject({ failOpen: 'last-resort' });
    expect(s.pools.map((p) => p.region)).toEqual(['us-east']);
  });
  it('fails open to all candidates (never an empty answer) without a last resort', () => {
    const { service } = serviceWith('      nearest: {}\n', '    answers: all\n');
    const s = select(service, ['eu-west', 'us-east', 'ap-southeast'], 4, () => 'down');
    expect(s.failOpen).toBe('all-candidates');
    expect(s.pools.map((p) => p.region)).toEqual(['eu-west', 'us-east', 'ap-southeast']);
  });
  it('only offers pools with an address of the asked family', () => {
    const cfg = parseConfigText(base.replace('    vip6: 2001:db8:20::20\n', ''));
    const www = cfg.services[0] as Service;
    expect(select(www, ['eu-west', 'us-east'], 6, () => 'up').pools.map((p) => p.region)).toEqual(['us-east']);
  });
});

describe('nearest over many regions (ordering truncated to its head)', () => {
  const config = parseConfigText(manyRegionsConfig(1000, '/unused.mmdb'));
  const service = config.services[0] as Service;
  const pools = service.pools.map((p) => p.region);
  const c = ctx(config);
  const byDistance = [...pools].sort(
    (a, b) =>
      distanceKm(london.location!.lat!, london.location!.lon!, config.regions.get(a)!.lat, config.regions.get(a)!.lon) -
      distanceKm(london.location!.lat!, london.location!.lon!, config.regions.get(b)!.lat, config.regions.get(b)!.lon),
  );

  it('holds the nearest 32 in order, and the whole order on demand', () => {
    const o = order(service.policy, pools, london, c);
    expect(o.candidates).toEqual(byDistance.slice(0, 32));
    expect(o.complete?.()).toEqual(byDistance);
  });

  it('answers the nearest healthy region even when the whole head is down', () => {
    const o = order(service.policy, pools, london, c);
    const down = new Set(byDistance.slice(0, 40));
    const s = select(service, o.candidates, 4, (r) => (down.has(r) ? 'down' : 'up'), o.complete);
    expect(s.failOpen).toBe('none');
    expect(s.pools.map((p) => p.region)).toEqual([byDistance[40]]);
    expect(s.health).toHaveLength(1000);
  });

  it('fails open to every candidate, not only the head, when all are down', () => {
    const o = order(service.policy, pools, london, c);
    const s = select({ ...service, answers: 0 }, o.candidates, 4, () => 'down', o.complete);
    expect(s.failOpen).toBe('all-candidates');
    expect(s.pools).toHaveLength(1000);
  });
});
