// Fencing by network and AS, with no sockets: the config's rules, which rule a client matches,
// the ECS scope that match depends on, what the rule leaves of an ordering, and the fail-open
// rule within it. Then the IP-to-AS table that feeds it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText, type Service } from '../../src/config/index.js';
import { AsnTable } from '../../src/geo/asn.js';
import { applyFence, matchFence, order, select, type Client, type Ordering } from '../../src/policy/index.js';
import { EXAMPLE } from '../helpers/dns.js';

const base = readFileSync(EXAMPLE, 'utf8');

function serviceWith(fence: string, policy = 'nearest'): Service {
  const config = parseConfigText(
    `${base}  t:\n    name: t.example.test\n    pools: [us-east, eu-west, ap-southeast]\n    policy: ${policy}\n    fence:\n${fence}`,
  );
  return config.services.find((s) => s.key === 't') as Service;
}

const v4 = (ip: number[], asn?: number, asnPrefix?: number): Client => ({
  address: Uint8Array.from(ip),
  family: 4,
  geoPrefix: 24,
  asn,
  asnPrefix,
});

const RULES = `      - networks: [203.0.113.0/24, 2001:db8:aa::/48]
        pin: [eu-west]
      - asn: [64500, "AS64501"]
        exclude: [us-east]
      - networks: [203.0.0.0/16]
        exclude: [ap-southeast]
`;

describe('fence rules in the config', () => {
  it('reads networks, AS numbers (bare or AS-prefixed), pin and exclude', () => {
    const [a, b, c] = serviceWith(RULES).fence;
    expect(a?.networks.map((n) => n.prefix)).toEqual([24, 48]);
    expect(a?.pin).toEqual(['eu-west']);
    expect([...(b?.asns ?? [])]).toEqual([64500, 64501]);
    expect(b?.exclude).toEqual(['us-east']);
    expect(c?.index).toBe(3);
  });

  it('says what is wrong with a rule, by path', () => {
    const bad = (fence: string) => {
      try {
        serviceWith(fence);
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(bad('      - networks: [203.0.113.0/33]\n        pin: [eu-west]\n')).toMatch(
      /services\.t\.fence\[0\]\.networks\[0\]: must be a network/,
    );
    expect(bad('      - asn: [AS-1]\n        pin: [eu-west]\n')).toMatch(/fence\[0\]\.asn\[0\]: must be an AS number/);
    expect(bad('      - asn: [1]\n        pin: [eu-west]\n        exclude: [us-east]\n')).toMatch(
      /fence\[0\]: needs exactly one of pin or exclude/,
    );
    expect(bad('      - pin: [eu-west]\n')).toMatch(/fence\[0\]: needs networks or asn/);
    expect(bad('      - asn: [1]\n        pin: [mars]\n')).toMatch(
      /fence\[0\]\.pin\[0\]: must name one of this service/,
    );
    expect(bad('      - asn: [1]\n        exclude: [us-east, eu-west, ap-southeast]\n')).toMatch(
      /fence\[0\]\.exclude: excludes every pool region/,
    );
    expect(bad('      - asn: [1]\n        pin: [eu-west]\n        via: x\n')).toMatch(/fence\[0\].*via/);
  });

  it('loads AS data only when a rule matches by AS', () => {
    const withAs = parseConfigText(
      `${base}  t:\n    name: t.example.test\n    pools: [us-east]\n    fence:\n      - asn: [1]\n        pin: [us-east]\n`,
    );
    expect(withAs.geo.asnDatabase).toBe('embedded:asn');
    const netsOnly = parseConfigText(
      `${base}  t:\n    name: t.example.test\n    pools: [us-east]\n    fence:\n      - networks: [10.0.0.0/8]\n        pin: [us-east]\n`,
    );
    expect(netsOnly.geo.asnDatabase).toBeUndefined();
  });
});

describe('which rule a client matches', () => {
  const rules = serviceWith(RULES).fence;

  it('takes the first rule that matches, by network or by AS', () => {
    expect(matchFence(rules, v4([203, 0, 113, 9], 64500, 16)).rule?.index).toBe(1); // both: the first
    expect(matchFence(rules, v4([198, 51, 100, 1], 64501, 24)).rule?.index).toBe(2);
    expect(matchFence(rules, v4([203, 0, 7, 1], 3, 24)).rule?.index).toBe(3);
    expect(matchFence(rules, v4([192, 0, 2, 1], 3, 24)).rule).toBeUndefined();
    expect(matchFence(rules, undefined)).toEqual({ scope: 0 });
  });

  it('gives a scope whose block lies wholly inside or outside every rule network and within one AS range', () => {
    const netsOnly = serviceWith(`      - networks: [203.0.113.0/24]\n        pin: [eu-west]\n`).fence;
    // Inside the /24: the answer holds for the /24.
    expect(matchFence(netsOnly, v4([203, 0, 113, 9])).scope).toBe(24);
    // 203.0.112.1 shares 23 bits with 203.0.113.0: its /24 (not its /23) stays outside.
    expect(matchFence(netsOnly, v4([203, 0, 112, 1])).scope).toBe(24);
    // 10.1.2.3 shares no bit with 203.x: its /1 is already outside.
    expect(matchFence(netsOnly, v4([10, 1, 2, 3])).scope).toBe(1);
    // AS rules: the AS range's block counts too.
    expect(matchFence(rules, v4([10, 1, 2, 3], 3, 20)).scope).toBe(20);
    // An IPv6 client is not held by IPv4 networks.
    const six: Client = { address: new Uint8Array(16).fill(0x20, 0, 1), family: 6, geoPrefix: 32 };
    expect(matchFence(netsOnly, six).scope).toBe(0);
  });
});

describe('what a rule leaves of the ordering', () => {
  const head: Ordering = { candidates: ['us-east', 'eu-west', 'ap-southeast'], rule: 'nearest', scope: 16 };
  const rules = serviceWith(RULES).fence;
  const service = serviceWith(RULES);
  const down =
    (...rs: string[]) =>
    (r: string) =>
      (rs.includes(r) ? 'down' : 'up') as 'up' | 'down';

  it('pins: only the pinned regions, in the policy order; when they are down it fails open among them', () => {
    const o = applyFence(head, { rule: rules[0], scope: 24 });
    expect(o.candidates).toEqual(['eu-west']);
    expect(o.scope).toBe(24);
    expect(o.rule).toBe('nearest; fence rule 1: pinned to eu-west');
    const s = select(service, o.candidates, 4, down('eu-west'));
    expect(s.failOpen).toBe('all-candidates');
    expect(s.pools.map((p) => p.region)).toEqual(['eu-west']);
  });

  it('excludes: never the excluded region, not even failing open', () => {
    const o = applyFence(head, { rule: rules[1], scope: 16 });
    expect(o.candidates).toEqual(['eu-west', 'ap-southeast']);
    expect(select(service, o.candidates, 4, down('eu-west')).pools.map((p) => p.region)).toEqual(['ap-southeast']);
    const allDown = select({ ...service, answers: 0 }, o.candidates, 4, down('eu-west', 'ap-southeast', 'us-east'));
    expect(allDown.pools.map((p) => p.region)).toEqual(['eu-west', 'ap-southeast']);
  });

  it('no rule: the same order, its scope widened to the match', () => {
    const o = applyFence(head, { scope: 20 });
    expect(o.candidates).toBe(head.candidates);
    expect(o.scope).toBe(20);
    expect(applyFence(head, { scope: 8 })).toBe(head);
  });

  it('pins regions a weighted subset does not order, after the ones it does', () => {
    const s = serviceWith(
      `      - asn: [1]\n        pin: [ap-southeast, eu-west]\n`,
      '{ weighted: { regions: [eu-west, us-east] } }',
    );
    const config = parseConfigText(`${base}`);
    const o = order(s.policy, ['us-east', 'eu-west', 'ap-southeast'], v4([1, 1, 1, 1], 1, 24), {
      regions: config.regions,
      weightOf: () => 1,
      random: () => 0.5,
    });
    expect(applyFence(o, { rule: s.fence[0], scope: 24 }).candidates).toEqual(['eu-west', 'ap-southeast']);
  });
});

describe('the IP-to-AS table', () => {
  const csv = [
    '# start,end,asn,org',
    '192.0.2.0,192.0.2.255,64500,"Example, Inc."',
    '198.51.100.0,198.51.100.127,64501,Left half',
    '198.51.100.128,198.51.100.255,64502',
    '2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64510,Docs v6',
    '10.0.0.0,10.255.255.255,64499,overlapped',
    '10.1.0.0,10.1.255.255,64498,later start wins',
  ].join('\n');
  const t = AsnTable.parse([{ name: 'test.csv', data: Buffer.from(csv) }], 'test.csv');

  it('finds the AS, its organisation, and the block sharing the answer', () => {
    expect(t.lookup(Uint8Array.of(192, 0, 2, 7))).toEqual({ asn: 64500, org: 'Example, Inc.', prefixLen: 24 });
    expect(t.lookup(Uint8Array.of(198, 51, 100, 5))).toEqual({ asn: 64501, org: 'Left half', prefixLen: 25 });
    expect(t.lookup(Uint8Array.of(198, 51, 100, 200))).toEqual({ asn: 64502, org: undefined, prefixLen: 25 });
    // Between ranges: no AS, and a block that stays within the gap.
    const gap = t.lookup(Uint8Array.of(192, 0, 3, 1));
    expect(gap.asn).toBeUndefined();
    expect(gap.prefixLen).toBe(24);
    const six = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array(12).fill(0)]);
    expect(t.lookup(six)).toEqual({ asn: 64510, org: 'Docs v6', prefixLen: 32 });
  });

  it('gives overlapping addresses to the later-starting range', () => {
    expect(t.lookup(Uint8Array.of(10, 1, 2, 3)).asn).toBe(64498);
    expect(t.lookup(Uint8Array.of(10, 0, 0, 1))).toMatchObject({ asn: 64499, prefixLen: 16 });
  });

  it('names the file and line of a bad row', () => {
    const bad = (line: string) => () => AsnTable.parse([{ name: 'x.csv', data: Buffer.from(`\n${line}\n`) }], 'x');
    expect(bad('192.0.2.0,192.0.2.9')).toThrow(/x\.csv:2: too few fields/);
    expect(bad('192.0.2.0,192.0.2.999,1')).toThrow(/x\.csv:2: the end is not an IPv4 address/);
    expect(bad('192.0.2.9,192.0.2.0,1')).toThrow(/the start is after the end/);
    expect(bad('192.0.2.0,192.0.2.9,AS1')).toThrow(/the AS number is not a number/);
    expect(bad('nonsense,192.0.2.9,1')).toThrow(/the start is not an address/);
  });

  it('reads the packaged data (RouteViews and DB-IP) when installed', () => {
    let packaged: AsnTable;
    try {
      packaged = AsnTable.open('embedded:asn');
    } catch (err) {
      expect((err as Error).message).toMatch(/@ip-location-db\/asn is not installed/);
      return;
    }
    expect(packaged.size).toBeGreaterThan(400_000);
    expect(packaged.lookup(Uint8Array.of(1, 1, 1, 1)).asn).toBe(13335);
    expect(packaged.lookup(Uint8Array.of(8, 8, 8, 8)).asn).toBe(15169);
    expect(packaged.lookup(Uint8Array.of(10, 0, 0, 1)).asn).toBeUndefined();
  });
});
