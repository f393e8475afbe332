// What each process loads: a DNS worker or an agent must not pay for the operators' API,
// the schedules or etcd unless configured for them; and the layering rules CI enforces.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { isIP } from '../../src/net/index.js';
import { ROOT } from '../helpers/dns.js';

/** npm packages loaded after importing `modules` (dist) in a fresh Node process. */
function packagesLoadedBy(modules: string[], then = ''): string[] {
  const script = `
    import { createRequire } from 'node:module';
    const Module = createRequire(import.meta.url)('node:module');
    for (const m of ${JSON.stringify(modules)}) await import(${JSON.stringify(`${ROOT}/dist/`)} + m);
    ${then}
    const names = Object.keys(Module._cache).filter((k) => k.includes('/node_modules/')).map((k) => k.split('/node_modules/').at(-1).split('/').slice(0, k.split('/node_modules/').at(-1).startsWith('@') ? 2 : 1).join('/'));
    console.log(JSON.stringify([...new Set(names)]));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as string[];
}

describe('what a process loads', () => {
  it('a DNS worker and the DNS primary load neither fastify, node-cron nor etcd3', () => {
    const loaded = packagesLoadedBy(['src/dns/worker.js', 'src/dns/run.js', 'src/state/index.js']);
    expect(loaded).toContain('maxmind'); // the check sees real loads
    for (const p of ['fastify', 'node-cron', 'etcd3']) expect(loaded).not.toContain(p);
  });

  it('an agent loads fastify for its own API, but not node-cron, and etcd3 only for an etcd store', () => {
    const loaded = packagesLoadedBy(['src/agent/index.js'], `const { openStore } = await import(${JSON.stringify(`${ROOT}/dist/src/state/index.js`)}); await openStore({ kind: 'file', path: '/tmp/gtm-layering-test/state.json' });`);
    expect(loaded).toContain('fastify');
    for (const p of ['node-cron', 'etcd3']) expect(loaded).not.toContain(p);
    const withEtcd = packagesLoadedBy(['src/state/index.js'], `const { openStore } = await import(${JSON.stringify(`${ROOT}/dist/src/state/index.js`)}); const s = await openStore({ kind: 'etcd', endpoints: ['127.0.0.1:1'], prefix: '/x/' }); await s.close();`);
    expect(withEtcd).toContain('etcd3');
  });

  it('the layering rules hold (scripts/check-layers.mjs, also run by CI)', () => {
    expect(execFileSync(process.execPath, [`${ROOT}/scripts/check-layers.mjs`], { encoding: 'utf8' })).toMatch(/no problems/);
  });
});

describe('pure IP helpers', () => {
  it('agree with node:net on literals, edge cases and random strings', () => {
    const cases = ['1.2.3.4', '255.255.255.255', '256.1.1.1', '01.2.3.4', '::', '::1', '1::', '2001:db8::1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::', '::ffff:1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3.4', ':::', '1::2::3', '12345::', 'g::1', '', '1.2.3', '1:2:3:4:5::1.2.3.4'];
    let x = 7;
    const alphabet = '0123456789abcdef:.:';
    for (let i = 0; i < 20_000; i++) {
      let s = '';
      const len = 1 + (i % 24);
      for (let j = 0; j < len; j++) {
        x = (x * 1103515245 + 12345) >>> 0;
        s += alphabet[x % alphabet.length];
      }
      cases.push(s);
    }
    const wrong = cases.filter((c) => isIP(c) !== net.isIP(c));
    expect(wrong).toEqual([]);
  });
});
