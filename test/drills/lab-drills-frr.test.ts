// The same lab with FRR 8.4 (zebra, bgpd, bfdd) as the upstream router instead of BIRD, in
// namespaces and a directory of its own; the cluster-down, drain and link-cut drills must pass
// against it too. FRR's BFD takes a while to come up after FRR starts (its sessions sit in
// "init" first): the drills start once every PoP sees BFD up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/dns.js';

process.env.GTM_LAB_PREFIX = `gtf${process.pid % 10000}-`;
process.env.GTM_LAB_DIR = tempDir('gtm-lab-frr-');
const labMod = await import('../../lab/lab.js');
const drills = await import('../../lab/drills.js');

type Lab = Awaited<ReturnType<typeof labMod.up>>;
let lab: Lab | undefined;

beforeAll(async () => {
  lab = await labMod.up(undefined, (s) => console.log(s), { router: 'frr' });
  const end = Date.now() + 90_000;
  for (;;) {
    const s = await labMod.status(lab);
    if (s.pops.every((p) => p.session === 'established/up' && p.routerPaths > 0)) break;
    if (Date.now() > end) throw new Error(`FRR lab: BGP/BFD not up in 90 s: ${labMod.formatStatus(s)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}, 180_000);

afterAll(async () => {
  await labMod.down((s) => console.log(s));
}, 30_000);

describe('failover lab with FRR as the router', () => {
  it('comes up with every PoP announced at FRR (ECMP for the shared VIP) and served', async () => {
    const s = await labMod.status(lab as Lab);
    console.log(labMod.formatStatus(s));
    expect(s.pops.map((p) => [p.name, p.routerPaths, p.serving, p.anycast])).toEqual([
      ['us-east', 1, true, 'UP, lp 100'],
      ['eu-west', 1, true, 'UP, lp 100'],
      ['ap-southeast', 1, true, 'UP, lp 100'],
    ]);
    expect(s.clients.every((c) => c.http.startsWith('served by'))).toBe(true);
  });

  for (const name of ['cluster-down', 'drain', 'link-cut']) {
    it(`drill ${name} meets its expectations against FRR`, async () => {
      const r = await drills.runDrill(lab as Lab, name);
      console.log(drills.formatDrill(r));
      expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
      expect(r.passed).toBe(true);
    }, 90_000);
  }
});
