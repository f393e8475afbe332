// regions.X.min_children: how many PoPs must serve a VIP of each address family. Short for one
// family, the region is out for A (or AAAA) queries alone; short for every judged one, it is down.
// The config check refuses a rule the configured PoPs can never meet.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText, type MinChildren } from '../../src/config/index.js';
import { familiesShort, InMemoryRegionState, mergeRegionState } from '../../src/state/index.js';
import { explain } from '../../src/dns/index.js';
import { GeoResolver } from '../../src/geo/index.js';
import type { AgentReport, RegionStatus, VipState } from '../../src/contract/index.js';
import { tempDir, testConfig } from '../helpers/dns.js';

const NOW = 1_000_000;
/** A PoP's heartbeat: its IPv4 and IPv6 VIPs in the given states. */
const report = (pop: string, v4: VipState | undefined, v6: VipState | undefined, serving = true): AgentReport => ({
  pop,
  region: 'us-east',
  serving,
  sessionUp: serving,
  vips: [
    ...(v4 ? [{ prefix: '198.51.100.10/32', state: v4 }] : []),
    ...(v6 ? [{ prefix: '2001:db8:10::10/128', state: v6 }] : []),
  ],
  at: NOW,
});
const POPS = ['nyc1', 'nyc2', 'nyc3'];

function merge(reports: AgentReport[], rule: MinChildren | undefined) {
  const regions = new Map<string, RegionStatus>([
    ['us-east', 'up'],
    ['eu-west', 'up'],
  ]);
  return mergeRegionState({
    regions,
    pops: new Map([['us-east', POPS]]),
    agents: new Map(reports.map((r) => [r.pop, r])),
    overrides: new Map(),
    previous: new Map(),
    now: NOW,
    maxOutShare: 1,
    ...(rule ? { minChildren: new Map([['us-east', rule]]) } : {}),
  }).views.get('us-east');
}

describe('families short of min_children', () => {
  it('counts, per family, the PoPs serving an UP VIP of it', () => {
    const agents = new Map(
      [report('nyc1', 'UP', 'UP'), report('nyc2', 'UP', 'DOWN'), report('nyc3', 'UP', 'UP', false)].map((r) => [
        r.pop,
        r,
      ]),
    );
    expect(familiesShort(POPS, agents, { ipv4: 2, ipv6: 2 })).toEqual({
      ipv6: '1 of 3 PoPs serve an IPv6 VIP (nyc1), min_children 2',
    });
    expect(familiesShort(POPS, agents, { ipv4: 3, ipv6: 0 })).toEqual({
      ipv4: '2 of 3 PoPs serve an IPv4 VIP (nyc1, nyc2), min_children 3',
    });
    // A PoP whose report is gone (lease ran out) serves nothing.
    expect(familiesShort(POPS, new Map(), { ipv4: 1, ipv6: 0 })).toEqual({
      ipv4: '0 of 3 PoPs serve an IPv4 VIP, min_children 1',
    });
  });
});

describe('min_children in the merge', () => {
  it('without the rule, any PoP serving any VIP keeps the region up for both families', () => {
    const v = merge([report('nyc1', 'DOWN', 'UP')], undefined);
    expect([v?.status, v?.familyOut]).toEqual(['up', undefined]);
  });

  it('one family short: up, out for that family alone, and the reason says which and why', () => {
    const v = merge([report('nyc1', 'UP', 'UP'), report('nyc2', 'UP', 'DOWN')], { ipv4: 2, ipv6: 2 });
    expect(v?.status).toBe('up');
    expect(v?.familyOut).toEqual({ ipv6: '1 of 3 PoPs serve an IPv6 VIP (nyc1), min_children 2' });
    expect(v?.reason).toBe('serving: nyc1, nyc2; out for IPv6: 1 of 3 PoPs serve an IPv6 VIP (nyc1), min_children 2');
  });

  it('every judged family short: down', () => {
    const v = merge([report('nyc1', 'UP', 'UP')], { ipv4: 2, ipv6: 2 });
    expect(v?.status).toBe('down');
    expect(v?.familyOut).toBeUndefined();
    expect(v?.reason).toMatch(/^too few PoPs serving: IPv4: 1 of 3 .*; IPv6: 1 of 3 /);
    // A family left at 0 is not judged: IPv4 alone short is every judged family.
    expect(merge([report('nyc1', 'UP', 'UP')], { ipv4: 2, ipv6: 0 })?.status).toBe('down');
  });

  it("an operator's status and an unknown region are not judged by it", () => {
    const regions = new Map<string, RegionStatus>([['us-east', 'up']]);
    const forced = mergeRegionState({
      regions,
      pops: new Map([['us-east', POPS]]),
      agents: new Map([['nyc1', report('nyc1', 'UP', undefined)]]),
      overrides: new Map([['us-east', { status: 'up', reason: 'r', who: 'ops', at: NOW }]]),
      previous: new Map(),
      now: NOW,
      maxOutShare: 1,
      minChildren: new Map([['us-east', { ipv4: 1, ipv6: 1 }]]),
    }).views.get('us-east');
    expect([forced?.status, forced?.familyOut]).toEqual(['up', undefined]);
    const unknown = mergeRegionState({
      regions,
      pops: new Map([['us-east', POPS]]),
      agents: new Map(),
      overrides: new Map(),
      previous: new Map(),
      now: NOW,
      maxOutShare: 1,
      known: () => false,
      minChildren: new Map([['us-east', { ipv4: 1, ipv6: 1 }]]),
    }).views.get('us-east');
    expect([unknown?.status, unknown?.unknown, unknown?.familyOut]).toEqual(['up', true, undefined]);
  });
});

const dir = tempDir();
const base = readFileSync(testConfig(dir), 'utf8');
/** The example with three us-east PoPs (two with an IPv6 VIP) and `min_children` on us-east. */
function configWith(rule: string) {
  const pop = (name: string, n: number, v6: boolean) => `  ${name}:
    region: us-east
    bgp: { asn: 6500${n}, router_id: 10.0.${n}.2, neighbors: [{ address: 10.0.${n}.1, asn: 65000 }], next_hop: 10.0.${n}.2, next_hop6: '2001:db8:ffff::${n}' }
    vips:
      - { address: vip, nodes: [{ name: lb1, address: 10.0.${n}.11 }], checks: [{ type: tcp, port: 80 }] }
${v6 ? `      - { address: vip6, nodes: [{ name: lb1, address: 10.0.${n}.11 }], checks: [{ type: tcp, port: 80 }] }\n` : ''}`;
  const text = base.replace(/(\n  us-east:\n)/, `$1    min_children: ${rule}\n`);
  return parseConfigText(
    `${text}\ncontrol:\n  store: { file: ${dir}/s.json }\npops:\n${pop('nyc1', 1, true)}${pop('nyc2', 2, true)}${pop('nyc3', 3, false)}`,
  );
}

describe('config', () => {
  it('reads a number (each family) or one per family (a family left out is not judged)', () => {
    expect(configWith('2').regions.get('us-east')?.minChildren).toEqual({ ipv4: 2, ipv6: 2 });
    expect(configWith('{ ipv4: 3 }').regions.get('us-east')?.minChildren).toEqual({ ipv4: 3, ipv6: 0 });
    expect(configWith('{ ipv4: 1, ipv6: 2 }').regions.get('us-east')?.minChildren).toEqual({ ipv4: 1, ipv6: 2 });
  });

  it('refuses a rule the configured PoPs can never meet, and bad shapes', () => {
    expect(() => configWith('3')).toThrow(
      /regions\.us-east\.min_children\.ipv6: 3 PoPs can never serve: 2 of us-east's PoPs have an IPv6 VIP/,
    );
    expect(() => configWith('{ ipv4: 4 }')).toThrow(/min_children\.ipv4: 4 PoPs can never serve: 3 of us-east's/);
    expect(() => configWith('{ ipv5: 1 }')).toThrow(/min_children/);
    expect(() => configWith('-1')).toThrow(/min_children: must be an integer from 0 to 1000/);
    expect(() => configWith('{ ipv4: two }')).toThrow(/min_children\.ipv4: must be an integer/);
  });
});

describe('DNS answers by family', () => {
  it('answers A from the region and AAAA from the next one, and explain says why', () => {
    const config = configWith('2');
    const state = InMemoryRegionState.fromConfig(config);
    state.set('us-east', {
      status: 'up',
      source: 'health',
      reason: 'serving: nyc1, nyc2; out for IPv6: 1 of 3 PoPs serve an IPv6 VIP (nyc1), min_children 2',
      familyOut: { ipv6: '1 of 3 PoPs serve an IPv6 VIP (nyc1), min_children 2' },
    });
    const geo = GeoResolver.open(config.geo.database);
    const ask = (type: 'A' | 'AAAA') =>
      explain(config, geo, state, { name: 'www.example.test', type, client: '198.18.3.1' }); // New York
    const a = ask('A');
    const aaaa = ask('AAAA');
    expect(a.find((l) => l.startsWith('chosen:'))).toBe('chosen: us-east');
    expect(aaaa.find((l) => l.startsWith('chosen:'))).not.toBe('chosen: us-east');
    expect(aaaa.find((l) => l.startsWith('candidates:'))).toMatch(/us-east \[up, skipped\]/);
    expect(aaaa).toContain(
      'health: us-east serving: nyc1, nyc2; out for IPv6: 1 of 3 PoPs serve an IPv6 VIP (nyc1), min_children 2',
    );
  });
});
