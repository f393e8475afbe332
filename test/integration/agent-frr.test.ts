// Interop with the router most operators run: FRRouting 8.4 (Debian) as the upstream, with the
// config `renderFrrBgpd` writes (the one the README's router guide shows), and two PoPs with
// gobgpd and a gtm agent, in namespaces this test creates and removes. What FRR holds (vtysh
// JSON) is the ground truth: both VIPs over one IPv4 session (IPv6 by MP-BGP), ECMP across PoPs
// in different ASes, GRACEFUL_SHUTDOWN at local-pref 0 on a drain, a failed cluster withdrawn.
import { type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrrRouter, renderFrrBgpd, type FrrPeer } from '../../lab/frr.js';
import { addAddress, addNs, delNs, fetchIn, killPid, link, spawnIn, waitExit } from '../../lab/netns.js';
import type { BirdRoute } from '../../src/bgp/index.js';
import { hashToken } from '../../src/auth/index.js';
import { EXAMPLE, ROOT, tempDir } from '../helpers/dns.js';
import { waitForValue } from '../helpers/wait.js';

const ID = `gf${process.pid % 100000}`;
const NS = { rtr: `${ID}r`, a: `${ID}a`, b: `${ID}b` };
const TOKEN = 'frr-interop-token-0123456789abcdef';
const V4 = '198.51.100.100/32';
const V6 = '2001:db8:100::100/128';
const dir = tempDir('gtm-frr-');
const procs: ChildProcess[] = [];
const lbs: Record<string, ChildProcess[]> = { a: [], b: [] };
let frr: FrrRouter;

const peers: FrrPeer[] = [
  { name: 'popa', neighbor: '10.150.1.2', asn: 65001, prefixes: [V4, V6] },
  { name: 'popb', neighbor: '10.150.2.2', asn: 65002, prefixes: [V4, V6] },
];

function popYaml(name: string, n: number, asn: number, region: string): string {
  return `  ${name}:
    region: ${region}
    api: 127.0.0.1:9180
    bgp:
      asn: ${asn}
      router_id: 10.150.${n}.2
      api: 127.0.0.1:50051
      listen_addresses: [10.150.${n}.2]
      neighbors: [{ address: 10.150.${n}.1, asn: 65000 }]
      next_hop: 10.150.${n}.2
      next_hop6: fd00:150:${n}::2
      med: 100
      hold_down_ms: 300
      drain: { duration_ms: 3000, med: 500 }
    vips:
${[V4, V6]
  .map(
    (v) => `      - address: "anycast:${v.includes(':') ? 'front6' : 'front4'}"
        nodes: [{ name: lb1, address: 10.150.${n}.11 }, { name: lb2, address: 10.150.${n}.12 }]
        checks: [{ type: http, port: 8080, path: /healthz, timeout_ms: 300 }]
        interval_ms: 100
        rise: 2
        fall: 2
`,
  )
  .join('')}`;
}

const until = <T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000) =>
  waitForValue(what, f, ok, timeoutMs, 50);
const from = (rs: BirdRoute[], pop: string) => rs.find((r) => r.protocol === pop);

beforeAll(async () => {
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `${readFileSync(EXAMPLE, 'utf8')}
anycast:
  front4: { address: ${V4.split('/')[0]} }
  front6: { address: ${V6.split('/')[0]} }
control:
  store: { file: ${join(dir, 'state.json')} }
  api:
    tokens: [{ name: oncall, sha256: ${hashToken(TOKEN)}, scopes: [drain] }]
pops:
${popYaml('pop-a', 1, 65001, 'us-east')}${popYaml('pop-b', 2, 65002, 'eu-west')}`,
  );
  for (const ns of Object.values(NS)) addNs(ns);
  link(NS.rtr, 'r-a', ['10.150.1.1/24', 'fd00:150:1::1/64'], NS.a, 'a-r', ['10.150.1.2/24', 'fd00:150:1::2/64']);
  link(NS.rtr, 'r-b', ['10.150.2.1/24', 'fd00:150:2::1/64'], NS.b, 'b-r', ['10.150.2.2/24', 'fd00:150:2::2/64']);
  for (const [key, ns, n] of [
    ['a', NS.a, 1],
    ['b', NS.b, 2],
  ] as const) {
    for (const host of [11, 12]) {
      addAddress(ns, 'lo', `10.150.${n}.${host}/32`);
      const p = spawnIn(ns, process.execPath, [
        join(ROOT, 'dist', 'lab', 'lb-node.js'),
        `lb${host - 10}`,
        `10.150.${n}.${host}`,
        '8080',
      ]);
      procs.push(p);
      lbs[key]?.push(p);
    }
  }
  mkdirSync(join(dir, 'frr'), { recursive: true });
  chmodSync(dir, 0o711); // the FRR daemons run as the frr user and must reach their directory
  const conf = join(dir, 'frr', 'bgpd.conf');
  writeFileSync(
    conf,
    renderFrrBgpd({ routerId: '10.150.0.1', asn: 65000, peers, logFile: join(dir, 'frr', 'bgpd.log') }),
  );
  frr = await FrrRouter.start(NS.rtr, join(dir, 'frr'), peers);
  procs.push(...frr.procs);
  for (const [pop, ns] of [
    ['pop-a', NS.a],
    ['pop-b', NS.b],
  ] as const)
    procs.push(
      spawnIn(ns, process.execPath, [
        join(ROOT, 'bin', 'gtm.js'),
        'agent',
        '--config',
        config,
        '--pop',
        pop,
        '--state-dir',
        join(dir, pop),
      ]),
    );
}, 60_000);

afterAll(async () => {
  for (const p of procs) killPid(p.pid, 'SIGKILL');
  await Promise.all(procs.map((p) => waitExit(p, 2000)));
  for (const ns of Object.values(NS)) delNs(ns);
  rmSync(dir, { recursive: true, force: true });
});

describe('agent + gobgpd + FRR 8.4', () => {
  it('learns both VIPs from both PoPs over one IPv4 session each (IPv6 by MP-BGP) and uses both (ECMP)', async () => {
    const v4 = await until(
      'both PoPs at FRR (v4)',
      () => frr.routes(V4),
      (rs) => !!from(rs, 'popa') && !!from(rs, 'popb'),
      40_000,
    );
    expect(from(v4, 'popa')).toMatchObject({ nextHop: '10.150.1.2', med: 100, asPath: [65001] });
    const v6 = await until(
      'both PoPs at FRR (v6)',
      () => frr.routes(V6),
      (rs) => !!from(rs, 'popa') && !!from(rs, 'popb'),
    );
    expect(from(v6, 'popb')?.asPath).toEqual([65002]);
    // Different ASes, equal otherwise: multipath-relax makes both usable.
    // bgpd marks multipath a moment after both paths are in (its bestpath run): wait for it.
    const rib = await until(
      'FRR to use both paths (multipath)',
      () => frr.vtysh<{ paths?: { multipath?: boolean }[] }>(`show bgp ipv4 unicast ${V4} json`),
      (r) => (r.paths ?? []).some((p) => p.multipath),
    );
    expect(rib.paths).toHaveLength(2);
  }, 60_000);

  it('a drain arrives as GRACEFUL_SHUTDOWN and FRR makes it least preferred (local-pref 0) by itself', async () => {
    const r = fetchIn(
      NS.a,
      'http://127.0.0.1:9180/maintenance',
      'POST',
      { enabled: true, reason: 'frr interop' },
      {
        authorization: `Bearer ${TOKEN}`,
      },
    );
    expect(r.status).toBe(200);
    // The path is re-announced drained; FRR then prefers pop-b's.
    const drained = await until(
      'pop-a drained at FRR, pop-b best',
      () => frr.routes(V4),
      (rs) => from(rs, 'popa')?.localPref === 0 && from(rs, 'popb')?.best === true,
    );
    expect(from(drained, 'popa')).toMatchObject({ med: 500, best: false });
    expect(from(drained, 'popa')?.communities.join(' ')).toMatch(/gracefulShutdown|65535:0/);
    await until(
      'pop-a withdrawn after the drain',
      () => frr.routes(V4),
      (rs) => !from(rs, 'popa'),
      10_000,
    );
    fetchIn(
      NS.a,
      'http://127.0.0.1:9180/maintenance',
      'POST',
      { enabled: false },
      { authorization: `Bearer ${TOKEN}` },
    );
    // Back normal (FRR leaves locPrf out of its JSON at the default).
    await until(
      'pop-a back at FRR',
      () => frr.routes(V4),
      (rs) => from(rs, 'popa')?.med === 100 && from(rs, 'popa')?.localPref !== 0,
    );
  }, 60_000);

  it("a failed cluster is withdrawn (pop-b's LB nodes killed), and FRR keeps only pop-a", async () => {
    const t0 = Date.now();
    for (const p of lbs.b ?? []) killPid(p.pid, 'SIGKILL');
    await until(
      'pop-b gone at FRR',
      () => frr.routes(V4),
      (rs) => !from(rs, 'popb') && !!from(rs, 'popa'),
      10_000,
    );
    console.log(`FRR: pop-b's cluster killed -> path gone at FRR after ${Date.now() - t0} ms`);
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 30_000);
});
