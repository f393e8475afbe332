// What each process loads: a DNS worker or an agent must not pay for the operators' API,
// the schedules or etcd unless configured for them; and the layering rules CI enforces.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { isIP } from '../../src/net/index.js';
import { ROOT } from '../helpers/dns.js';

/**
 * Packages and our own modules loaded after importing `modules` (dist) in a fresh Node
 * process: ESM loads are recorded by a resolve hook, CommonJS ones read from the require cache.
 */
function loadedBy(modules: string[], then = ''): { packages: string[]; own: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'gtm-loads-'));
  const log = join(dir, 'loads.log');
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
     let out;
     export async function initialize(data) { out = data.out; }
     export async function resolve(spec, ctx, next) { const r = await next(spec, ctx); appendFileSync(out, r.url + '\\n'); return r; }`,
  );
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { out: ${JSON.stringify(log)} } });`,
  );
  const script = `
    import { createRequire } from 'node:module';
    const Module = createRequire(import.meta.url)('node:module');
    for (const m of ${JSON.stringify(modules)}) await import(${JSON.stringify(`${ROOT}/dist/`)} + m);
    ${then}
    console.log(JSON.stringify(Object.keys(Module._cache)));`;
  const cjs = JSON.parse(
    execFileSync(
      process.execPath,
      ['--import', pathToFileURL(join(dir, 'register.mjs')).href, '--input-type=module', '-e', script],
      { cwd: ROOT, encoding: 'utf8' },
    ),
  ) as string[];
  const files = [
    ...cjs,
    ...readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((u) => (u.startsWith('file:') ? fileURLToPath(u) : u)),
  ];
  const pkg = (f: string) => {
    const rest = f.split('/node_modules/').at(-1) as string;
    return rest
      .split('/')
      .slice(0, rest.startsWith('@') ? 2 : 1)
      .join('/');
  };
  return {
    packages: [...new Set(files.filter((f) => f.includes('/node_modules/')).map(pkg))],
    own: [...new Set(files.filter((f) => f.startsWith(`${ROOT}/dist/`)).map((f) => f.slice(ROOT.length + 6)))],
  };
}

/** Packages a real `gtm` command loads (its primary and any workers), until `ready` appears in its output. */
async function loadedByCommand(args: string[], ready: RegExp): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'gtm-loads-'));
  const log = join(dir, 'loads.log');
  writeFileSync(log, '');
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
     let out;
     export async function initialize(data) { out = data.out; }
     export async function resolve(spec, ctx, next) { const r = await next(spec, ctx); appendFileSync(out, r.url + '\\n'); return r; }`,
  );
  // CommonJS packages (fastify, grpc, protobufjs, node-cron all are) are seen through require.
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register, createRequire } from 'node:module'; import { appendFileSync } from 'node:fs';
     register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)}, { data: { out: ${JSON.stringify(log)} } });
     const Module = createRequire(import.meta.url)('node:module');
     const load = Module._load;
     Module._load = function (request, parent, isMain) { const r = load.apply(this, arguments); try { appendFileSync(${JSON.stringify(log)}, Module._resolveFilename(request, parent) + '\\n'); } catch {} return r; };`,
  );
  const child = spawn(
    process.execPath,
    ['--import', pathToFileURL(join(dir, 'register.mjs')).href, join(ROOT, 'bin', 'gtm.js'), ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const end = Date.now() + 20_000;
  while (!ready.test(out) && child.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  if (!ready.test(out)) throw new Error(`gtm ${args[0]} did not get ready:\n${out}`);
  return [
    ...new Set(
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((f) => f.includes('/node_modules/'))
        .map((f) => {
          const rest = f.split('/node_modules/').at(-1) as string;
          return rest
            .split('/')
            .slice(0, rest.startsWith('@') ? 2 : 1)
            .join('/');
        }),
    ),
  ];
}

describe('what a process loads', () => {
  it('gtm dns, from the real entry (bin/gtm.js, primary and workers), loads no fastify, gRPC, protobufjs or node-cron', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const packages = await loadedByCommand(
      [
        'dns',
        '--config',
        join(ROOT, 'examples', 'three-regions.yaml'),
        '--listen',
        `127.0.0.1:${port}`,
        '--workers',
        '1',
      ],
      /dns server listening/,
    );
    expect(packages).toContain('maxmind'); // the check sees what the workers load too
    expect(packages).toContain('pino');
    for (const p of ['fastify', '@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs', 'node-cron', 'etcd3'])
      expect(packages, p).not.toContain(p);
  }, 30_000);

  it('a DNS worker loads no config parser, fastify, node-cron or etcd3; the primary no fastify or etcd3', () => {
    const worker = loadedBy(['src/dns/worker.js']);
    expect(worker.packages).toContain('maxmind'); // the check sees real loads, CommonJS ...
    expect(worker.own).toContain('src/dns/authority.js'); // ... and ESM
    for (const p of ['fastify', 'node-cron', 'etcd3', 'yaml']) expect(worker.packages).not.toContain(p);
    expect(worker.own.filter((f) => /^src\/(control|config\/schema)/.test(f))).toEqual([]);
    const primary = loadedBy(['src/dns/run.js']);
    for (const p of ['fastify', 'etcd3']) expect(primary.packages).not.toContain(p);
    expect(primary.own.filter((f) => f.startsWith('src/control/'))).toEqual([]);
  });

  it('an agent loads fastify for its own API but not the control API, and etcd3 only for an etcd store', () => {
    const agent = loadedBy(
      ['src/agent/index.js'],
      `const { openStore } = await import(${JSON.stringify(`${ROOT}/dist/src/state/index.js`)}); await openStore({ kind: 'file', path: '/tmp/gtm-layering-test/state.json' });`,
    );
    expect(agent.packages).toContain('fastify');
    expect(agent.packages).not.toContain('etcd3');
    expect(agent.own.filter((f) => f.startsWith('src/control/'))).toEqual([]);
    const withEtcd = loadedBy(
      ['src/state/index.js'],
      `const { openStore } = await import(${JSON.stringify(`${ROOT}/dist/src/state/index.js`)}); const s = await openStore({ kind: 'etcd', endpoints: ['127.0.0.1:1'], prefix: '/x/' }); await s.close();`,
    );
    expect(withEtcd.packages).toContain('etcd3');
  });

  it('the layering rules hold (scripts/check-layers.mjs, also run by CI)', () => {
    expect(execFileSync(process.execPath, [`${ROOT}/scripts/check-layers.mjs`], { encoding: 'utf8' })).toMatch(
      /no problems/,
    );
  });
});

describe('pure IP helpers', () => {
  it('agree with node:net on literals, edge cases and random strings', () => {
    const cases = [
      '1.2.3.4',
      '255.255.255.255',
      '256.1.1.1',
      '01.2.3.4',
      '::',
      '::1',
      '1::',
      '2001:db8::1',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7::',
      '::ffff:1.2.3.4',
      '1:2:3:4:5:6:1.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::1.2.3.4',
      ':::',
      '1::2::3',
      '12345::',
      'g::1',
      '',
      '1.2.3',
      '1:2:3:4:5::1.2.3.4',
    ];
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
