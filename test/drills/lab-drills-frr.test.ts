// The same lab with FRR 8.4 (zebra, bgpd, bfdd) as the upstream router instead of BIRD, in
// namespaces and a directory of its own; the cluster-down, drain and link-cut drills must pass
// against it too. The drills start once every PoP sees BGP established and BFD up; if that never
// comes, the failure shows bfdd's own view and the end of its log (state changes, dropped packets).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { labOfOwn, type Lab } from '../helpers/lab.js';

const execFileP = promisify(execFile);

const { labMod, drills } = await labOfOwn('gtf', 'frr');
let lab: Lab | undefined;

beforeAll(async () => {
  lab = await labMod.up(undefined, (s) => console.log(s), { router: 'frr' });
  const end = Date.now() + 90_000;
  for (;;) {
    const s = await labMod.status(lab);
    if (s.pops.every((p) => p.session === 'established/up' && p.routerPaths > 0)) break;
    if (Date.now() > end)
      throw new Error(`FRR lab: BGP/BFD not up in 90 s: ${labMod.formatStatus(s)}\n${await bfddView(lab)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}, 180_000);

/** bfdd's sessions and the last lines of its log, for a failure message. */
async function bfddView(l: Lab): Promise<string> {
  const dir = join(l.dir, 'frr');
  const peers = await execFileP('vtysh', ['--vty_socket', dir, '-c', 'show bfd peers brief']).then(
    (r) => r.stdout,
    (e: Error) => `show bfd peers: ${e.message}`,
  );
  const log = existsSync(join(dir, 'bfdd.log')) ? readFileSync(join(dir, 'bfdd.log'), 'utf8').split('\n') : [];
  return `${peers}\nbfdd.log (last 30 of ${log.length} lines):\n${log.slice(-31).join('\n')}`;
}

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
