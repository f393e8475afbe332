// dnsviz (Debian), the DNSSEC analyser operators paste zones into, on a signed zone: inside a
// network namespace of this test's own (dnsviz wants port 53), `gtm dns` on 127.0.0.1:53 and
// unbound on 127.0.0.2:53 in front of it with the zone's DS as anchor; `dnsviz probe` through
// unbound, `dnsviz grok` with the same anchor: no error and no warning about anything we serve.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ip } from '../../lab/netns.js';
import { ROOT, run, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { startUnbound, type RunningUnbound } from '../helpers/unbound.js';

const NS = `gtdv${process.pid % 10000}`;
const gtm = (args: string[]) =>
  execFileSync(process.execPath, [join(ROOT, 'bin', 'gtm.js'), ...args], { encoding: 'utf8' });

/** Every error and warning in grok's JSON, with where it was found. */
function problems(node: unknown, path: string[] = []): string[] {
  if (Array.isArray(node)) return node.flatMap((x, i) => problems(x, [...path, String(i)]));
  if (!node || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) =>
    k === 'errors' || k === 'error' || k === 'warnings' || k === 'warning'
      ? (v as { code?: string; description?: string }[]).map((e) => `${path.join(' ')}: ${e.code} ${e.description}`)
      : problems(v, [...path, k]),
  );
}

/** How often each status (VALID, SECURE, BOGUS, ...) appears in grok's JSON. */
function statuses(node: unknown, out = new Map<string, number>()): Map<string, number> {
  if (Array.isArray(node)) for (const x of node) statuses(x, out);
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) {
      if (k === 'status' && typeof v === 'string') out.set(v, (out.get(v) ?? 0) + 1);
      else statuses(v, out);
    }
  return out;
}

describe('dnsviz on the signed zone', () => {
  let dns: RunningDns | undefined;
  let unbound: RunningUnbound | undefined;
  afterAll(async () => {
    await unbound?.stop();
    await dns?.stop();
    ip('netns', 'del', NS);
  });

  it('finds no error and no warning in what gtm dns serves', async () => {
    const dir = tempDir('gtm-dnsviz-');
    const config = testConfig(dir);
    writeFileSync(
      config,
      readFileSync(config, 'utf8').replace(
        '    ns: [ns1, ns2]\n',
        `    ns: [ns1, ns2]\n    dnssec: { keys: ${join(dir, 'keys')} }\n`,
      ),
    );
    gtm(['dnssec', 'keygen', '--config', config, '--zone', 'example.test']);
    const ds = gtm(['dnssec', 'ds', '--config', config, '--zone', 'example.test']).trim().split('\n');
    ip('netns', 'add', NS);
    ip('-n', NS, 'link', 'set', 'lo', 'up');
    ip('-n', NS, 'addr', 'add', '127.0.0.2/8', 'dev', 'lo');
    dns = await startDns(config, 1, { name: NS, host: '127.0.0.1', port: 53 });
    unbound = await startUnbound(join(dir, 'unbound'), {
      upstreamPort: 53,
      zone: 'example.test',
      anchors: ds,
      netns: { name: NS, address: '127.0.0.2', port: 53 },
    });
    const names = ['example.test', 'www.example.test', 'app.example.test', 'static.example.test', 'nope.example.test'];
    const probe = await run(
      'ip',
      [
        'netns',
        'exec',
        NS,
        'dnsviz',
        'probe',
        '-s',
        '127.0.0.2',
        '-a',
        'example.test',
        '-o',
        join(dir, 'probe.json'),
        ...names,
      ],
      120_000,
    );
    expect(probe.code, probe.stderr).toBe(0);
    // Without -t: Debian 12's dnsviz 0.9.4 refuses trusted keys with its pygraphviz 1.7 (it looks
    // for pygraphviz.release, which 1.7 no longer has). grok then checks every RRSIG and every
    // denial proof, not the chain to an anchor; unbound and delv check that (dnssec.test.ts).
    const grok = await run('dnsviz', ['grok', '-r', join(dir, 'probe.json')], 60_000);
    expect(grok.code, grok.stderr).toBe(0);
    const report = JSON.parse(grok.stdout) as Record<string, unknown>;
    for (const n of names) expect(Object.keys(report)).toContain(`${n}.`);
    // The one thing this closed namespace cannot have: example.test's DS at its parent ("test.",
    // which no server here serves), so the resolver answers that query SERVFAIL.
    const found = problems(report).filter(
      (p) => !/^example\.test\. queries example\.test\.\/IN\/DS: INVALID_RCODE/.test(p),
    );
    expect(found).toEqual([]);
    // What it did check: signatures and denial proofs, all valid.
    const seen = statuses(report);
    expect(seen.get('VALID') ?? 0, JSON.stringify([...seen])).toBeGreaterThan(15);
    expect([...seen.keys()].filter((s) => !['VALID', 'NOERROR', 'NXDOMAIN', 'INSECURE'].includes(s))).toEqual([]);
    const proofs = JSON.stringify(report).match(/"proof"/g)?.length ?? 0;
    expect(proofs).toBeGreaterThan(0);
  }, 180_000);
});
