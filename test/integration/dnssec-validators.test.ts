// The validator matrix: three validating resolvers we did not write (unbound with its
// subnetcache, PowerDNS Recursor, Knot Resolver), each anchored only on the DS from
// `gtm dnssec ds`, in front of a signed `gtm dns`, for ECDSA P-256 and Ed25519, one CSK and a
// KSK+ZSK split. Every kind of question must come back validated (AD) and never SERVFAIL:
// static, steered for two client subnets, a CNAME chain, a name that does not exist, a type a name
// does not have, an empty non-terminal, a wildcard (data and no data), NSEC, DNSKEY and CDS.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kdig, ROOT, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { startKnotResolver, startPdnsRecursor, type RunningResolver } from '../helpers/resolvers.js';
import { startUnbound } from '../helpers/unbound.js';

const gtm = (args: string[]) =>
  execFileSync(process.execPath, [join(ROOT, 'bin', 'gtm.js'), ...args], { encoding: 'utf8' });

const RECORDS = [
  '      - { name: x.ent, type: A, value: 192.0.2.99 }',
  '      - { name: "*.wild", type: A, value: 192.0.2.70 }',
  '',
].join('\n');

const QUESTIONS: [string, string[]][] = [
  ['static data', ['static.example.test', 'A']],
  ['a CNAME chain to a steered name', ['docs.example.test', 'A']],
  ['a name that does not exist (compact denial)', ['nope.example.test', 'A']],
  ['a type the name does not have', ['static.example.test', 'AAAA']],
  ['an empty non-terminal', ['ent.example.test', 'A']],
  ['a name a wildcard stands for', ['foo.wild.example.test', 'A']],
  ['a type the wildcard does not have', ['foo.wild.example.test', 'TXT']],
  ["the wildcard's own name", ['*.wild.example.test', 'A']],
  ['NSEC at the apex', ['example.test', 'NSEC']],
  ['NSEC of a name that does not exist', ['nope.example.test', 'NSEC']],
  ['DNSKEY', ['example.test', 'DNSKEY']],
  ['CDS', ['example.test', 'CDS']],
];

const flagsOf = (out: string) => /;; Flags: ([^;]*);/.exec(out)?.[1]?.trim().split(/\s+/) ?? [];
const statusOf = (out: string) => /status: (\w+)/.exec(out)?.[1];

describe.each([
  ['ecdsap256sha256', 'one CSK', false],
  ['ecdsap256sha256', 'a KSK and a ZSK', true],
  ['ed25519', 'one CSK', false],
  ['ed25519', 'a KSK and a ZSK', true],
])('%s with %s', (algorithm, _keys, split) => {
  const dir = tempDir('gtm-validators-');
  let dns: RunningDns;
  const resolvers: Record<string, RunningResolver> = {};

  beforeAll(async () => {
    const keys = join(dir, 'keys');
    const file = testConfig(dir, { records: RECORDS });
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        '    ns: [ns1, ns2]\n',
        `    ns: [ns1, ns2]\n    dnssec: { keys: ${keys}, algorithm: ${algorithm} }\n`,
      ),
    );
    gtm(['dnssec', 'keygen', '--config', file, '--zone', 'example.test', ...(split ? ['--split'] : [])]);
    const anchors = gtm(['dnssec', 'ds', '--config', file, '--zone', 'example.test']).trim().split('\n');
    dns = await startDns(file, 1);
    const opts = { upstreamPort: dns.port, zone: 'example.test', anchors };
    resolvers.unbound = await startUnbound(join(dir, 'unbound'), opts);
    resolvers['PowerDNS Recursor'] = await startPdnsRecursor(join(dir, 'pdns'), opts);
    resolvers['Knot Resolver'] = await startKnotResolver(join(dir, 'kresd'), opts);
  }, 60_000);

  afterAll(async () => {
    for (const r of Object.values(resolvers)) await r.stop();
    await dns?.stop();
  });

  for (const resolver of ['unbound', 'PowerDNS Recursor', 'Knot Resolver']) {
    it(`${resolver} validates every kind of question (AD, never SERVFAIL)`, async () => {
      const r = resolvers[resolver] as RunningResolver;
      const failed: string[] = [];
      for (const [what, q] of QUESTIONS) {
        const out = await kdig(r.port, ['+dnssec', '+time=3', ...q]);
        if (!flagsOf(out).includes('ad') || statusOf(out) === 'SERVFAIL')
          failed.push(`${what} (${q.join(' ')}): ${statusOf(out)} flags ${flagsOf(out).join(' ')}`);
      }
      // NSEC over TCP too.
      const tcp = await kdig(r.port, ['+dnssec', '+tcp', 'static.example.test', 'NSEC']);
      if (!flagsOf(tcp).includes('ad')) failed.push(`NSEC over TCP: ${statusOf(tcp)}`);
      expect(failed).toEqual([]);
    });

    it(`${resolver}: a steered name, validated for two client subnets`, async () => {
      const r = resolvers[resolver] as RunningResolver;
      const ask = (subnet: string) => kdig(r.port, ['+dnssec', `+subnet=${subnet}`, 'www.example.test', 'A']);
      const [newYork, singapore] = [await ask('198.18.3.0/24'), await ask('198.18.4.0/24')];
      for (const out of [newYork, singapore]) expect(flagsOf(out), out).toContain('ad');
      if (resolver === 'Knot Resolver') {
        // Knot Resolver 5 sends no ECS upstream: both are steered by its own address.
        expect(newYork).toMatch(/198\.51\.100\.\d+/);
      } else {
        expect(newYork).toMatch(/\tA\t198\.51\.100\.10/);
        expect(singapore).toMatch(/\tA\t198\.51\.100\.30/);
      }
    });
  }
});
