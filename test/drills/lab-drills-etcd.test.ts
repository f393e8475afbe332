// The namespace lab with its shared store in a real etcd (in the DNS node, reached by the agents
// over the lab's network, as across machines), in namespaces and a directory of its own: the
// partition drills (etcd frozen and back; the second DNS node cut from etcd while a PoP fails;
// the control plane frozen while a PoP fails) and cluster-down, whose report then crosses the
// router to reach the store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { tempDir } from '../helpers/dns.js';
import { labOfOwn, type Lab } from '../helpers/lab.js';

const { labMod, drills } = await labOfOwn('gte', 'etcd');
let lab: Lab | undefined;

beforeAll(async () => {
  lab = await labMod.up(undefined, (s) => console.log(s), { store: 'etcd', prometheus: false });
}, 120_000);

afterAll(async () => {
  await labMod.down((s) => console.log(s));
}, 30_000);

describe('failover lab with etcd as the shared store', () => {
  it('runs the store drill only where the store is etcd', async () => {
    const l = lab as Lab;
    expect(drills.cannotRun(l, 'store-lost-and-back')).toBeUndefined();
    // The same lab sharing a state file instead: the drill says what it needs and runs nothing.
    const doc = parse(readFileSync(l.config, 'utf8'));
    doc.control.store = { file: join(l.dir, 'state.json') };
    const config = join(tempDir('gtm-lab-file-'), 'config.yaml');
    writeFileSync(config, stringify(doc));
    const fileLab = { ...l, config };
    expect(drills.cannotRun(fileLab, 'store-lost-and-back')).toMatch(
      /needs the shared store in etcd: gtm lab up --store etcd/,
    );
    expect(drills.cannotRun(fileLab, 'etcd-partition')).toMatch(/needs a second DNS node: gtm lab up --store etcd/);
    expect(drills.cannotRun(fileLab, 'control-plane-down')).toBeUndefined();
    await expect(drills.runDrill(fileLab, 'store-lost-and-back')).rejects.toThrow(/needs the shared store in etcd/);
  });

  for (const name of ['store-lost-and-back', 'etcd-partition', 'control-plane-down', 'cluster-down']) {
    it(`drill ${name} meets its expectations`, async () => {
      const r = await drills.runDrill(lab as Lab, name);
      console.log(drills.formatDrill(r));
      expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
      expect(r.expectations.length).toBeGreaterThan(3);
      expect(r.passed).toBe(true);
      if (name === 'store-lost-and-back') {
        // The fallback was taken and left, each once, in that order.
        const store = r.timeline.filter((e) => /^DNS: shared store/.test(e.what)).map((e) => e.what);
        expect(store).toEqual([
          expect.stringMatching(/^DNS: shared store silent for \d+ s: fallback configured/),
          expect.stringMatching(/^DNS: shared store answers again after \d+ s/),
        ]);
      }
    }, 120_000);
  }
});
