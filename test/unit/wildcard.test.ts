// Wildcards (RFC 4592) through the whole answer path in-process: synthesis at the closest
// encloser, what blocks it (existing names, empty non-terminals), wildcard CNAMEs, a steered
// wildcard, the wildcard's own name, config refusals; and their signatures (RFC 4034 §3.1.3).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../src/config/index.js';
import { Authority } from '../../src/dns/index.js';
import { GeoResolver } from '../../src/geo/index.js';
import { InMemoryRegionState } from '../../src/state/index.js';
import { buildQuery, RCODE, TYPE } from '../../src/wire/index.js';
import { decode, EXAMPLE, tempDir, testConfig } from '../helpers/dns.js';

const RECORDS = [
  '      - { name: "*.wild", type: A, value: 192.0.2.70 }',
  '      - { name: "*.wild", type: TXT, value: wild }',
  '      - { name: sub.wild, type: A, value: 192.0.2.71 }',
  '      - { name: a.ent.wild, type: TXT, value: deep }',
  '      - { name: "*.cn", type: CNAME, value: static }',
].join('\n');
const STEERED = `
  edge:
    name: "*.edge.example.test"
    ttl: 20
    pools: [us-east, eu-west, ap-southeast]
    policy: nearest
`;
const file = testConfig(tempDir(), { records: `${RECORDS}\n`, services: STEERED });
const config = parseConfigText(readFileSync(file, 'utf8'));
const authority = new Authority(config, GeoResolver.open(config.geo.database), InMemoryRegionState.fromConfig(config));
const ask = (name: string, qtype: number, ecs?: string) => {
  const address = ecs ? Uint8Array.from(ecs.split('.').map(Number)) : undefined;
  const r = authority.respond(
    buildQuery(name, qtype, { id: 7, ecs: address ? { address, sourcePrefix: 24 } : undefined }),
    '127.0.0.1',
    true,
  ).response as Buffer;
  return { rcode: (r[3] as number) & 0xf, msg: decode(r) };
};
const answers = (r: ReturnType<typeof ask>) =>
  r.msg.answers.map(
    (a) => `${a.name} ${a.type} ${a.address ?? a.domain ?? JSON.stringify((a as { data?: unknown }).data ?? '')}`,
  );

describe('wildcards (RFC 4592)', () => {
  it('synthesize a name that does not exist, one or more labels below, with the asked name as owner', () => {
    expect(answers(ask('foo.wild.example.test', TYPE.A))).toEqual([`foo.wild.example.test ${TYPE.A} 192.0.2.70`]);
    expect(answers(ask('a.b.c.wild.example.test', TYPE.A))).toEqual([`a.b.c.wild.example.test ${TYPE.A} 192.0.2.70`]);
    // A type the wildcard does not have: NODATA (the name "exists" through the wildcard).
    const nodata = ask('foo.wild.example.test', TYPE.AAAA);
    expect([nodata.rcode, nodata.msg.answers.length, nodata.msg.authorities[0]?.type]).toEqual([
      RCODE.NOERROR,
      0,
      TYPE.SOA,
    ]);
  });

  it('existing names and empty non-terminals block expansion below them', () => {
    expect(answers(ask('sub.wild.example.test', TYPE.A))).toEqual([`sub.wild.example.test ${TYPE.A} 192.0.2.71`]);
    // Closest encloser sub.wild has no wildcard of its own.
    expect(ask('x.sub.wild.example.test', TYPE.A).rcode).toBe(RCODE.NXDOMAIN);
    // ent.wild exists as an empty non-terminal: no data there, and nothing below it is synthesized.
    const ent = ask('ent.wild.example.test', TYPE.A);
    expect([ent.rcode, ent.msg.answers.length]).toEqual([RCODE.NOERROR, 0]);
    expect(ask('b.ent.wild.example.test', TYPE.A).rcode).toBe(RCODE.NXDOMAIN);
    // Names with no wildcard at their closest encloser are plain NXDOMAIN.
    expect(ask('nope.example.test', TYPE.A).rcode).toBe(RCODE.NXDOMAIN);
  });

  it("the wildcard's own name is answered as data; a wildcard CNAME is followed like any CNAME", () => {
    expect(answers(ask('*.wild.example.test', TYPE.TXT))).toEqual([`*.wild.example.test ${TYPE.TXT} ["wild"]`]);
    expect(answers(ask('x.y.cn.example.test', TYPE.A))).toEqual([
      `x.y.cn.example.test ${TYPE.CNAME} static.example.test`,
      `static.example.test ${TYPE.A} 192.0.2.80`,
    ]);
  });

  it('a steered wildcard steers every name it stands for, by the client (ECS)', () => {
    expect(answers(ask('cdn1.edge.example.test', TYPE.A, '198.18.1.0'))).toEqual([
      `cdn1.edge.example.test ${TYPE.A} 198.51.100.20`,
    ]);
    expect(answers(ask('other.edge.example.test', TYPE.A, '198.18.4.0'))).toEqual([
      `other.edge.example.test ${TYPE.A} 198.51.100.30`,
    ]);
  });

  it('a * anywhere but the leftmost label, or a wildcard delegation, is a config error', () => {
    const problems = (records: string) => {
      try {
        parseConfigText(readFileSync(EXAMPLE, 'utf8').replace('    records:\n', `    records:\n${records}\n`));
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problems('      - { name: "a.*.b", type: A, value: 192.0.2.1 }').join()).toMatch(
      /a\.\*\.b\.example\.test: a \* is a wildcard only as the leftmost label/,
    );
    expect(problems('      - { name: "x*", type: A, value: 192.0.2.1 }').join()).toMatch(/not a valid domain name/);
    expect(problems('      - { name: "*.d", type: NS, value: ns1 }').join()).toMatch(/a wildcard cannot hold NS/);
  });
});
