// The control API: auth, validation, guard rail, audit, OpenAPI, and an API change reaching
// the real DNS server's answers within 1 s.
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/index.js';
import { parseConfigText, type Config } from '../../src/config/index.js';
import { startControl, type ControlServer } from '../../src/control/index.js';
import { FileStateStore } from '../../src/state/index.js';
import { createLogger } from '../../src/observability/index.js';
import { kdig, ROOT, run, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'test-token-0123456789abcdef';
const ONCALL = 'oncall-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';
const WEIGHTER = 'weighter-token-0123456789abcdef';
process.env.GTM_TEST_TOKEN = TOKEN;
let dns: RunningDns;
let control: ControlServer;
let store: FileStateStore;
let base: string;
let auditPath: string;

beforeAll(async () => {
  const dir = tempDir();
  const cfg = testConfig(dir, {
    services:
      '  w:\n    name: w.example.test\n    ttl: 5\n    pools: [us-east, eu-west, ap-southeast]\n    policy: weighted\n',
  });
  auditPath = join(dir, 'audit.jsonl');
  writeFileSync(
    cfg,
    `${readFileSync(cfg, 'utf8')}
control:
  store: { file: ${join(dir, 'state.json')} }
  max_regions_out: 0.5
  api:
    listen: 127.0.0.1:0
    audit_log: ${auditPath}
    tokens:
      - { name: alice, env: GTM_TEST_TOKEN }
      - { name: oncall, sha256: ${hashToken(ONCALL)}, scopes: [drain], regions: [us-east] }
      - { name: viewer, sha256: ${hashToken(VIEWER)}, scopes: [read] }
      - { name: weighter, sha256: ${hashToken(WEIGHTER)}, scopes: [weight], regions: [us-east] }
      - { name: nobody-has-this, env: GTM_UNSET_TOKEN_FOR_TEST }
`,
  );
  dns = await startDns(cfg, 2);
  const config = parseConfigText(readFileSync(cfg, 'utf8'));
  store = new FileStateStore(join(dir, 'state.json'));
  control = await startControl(config, store, createLogger('test-control', 'silent'));
  base = `http://127.0.0.1:${control.port}`;
});
afterAll(async () => {
  await control?.close();
  await dns?.stop();
});

const call = async (method: string, path: string, body?: unknown, token: string | null = TOKEN) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & unknown[] };
};
const regionView = async (name: string) =>
  ((await call('GET', '/api/v1/regions')).body as { name: string; status: string; weight: number | null }[]).find(
    (x) => x.name === name,
  );
const ask = async () => (await kdig(dns.port, ['+short', '+subnet=198.18.1.0/24', 'www.example.test', 'A'])).trim();

describe('control API', () => {
  it('lists regions as DNS sees them', async () => {
    const r = await call('GET', '/api/v1/regions', undefined, null);
    expect(r.status).toBe(200);
    expect((r.body as { name: string }[]).map((x) => x.name)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
  });

  it('explains an answer from the live state, and refuses a bad question', async () => {
    const q = (qs: string) => call('GET', `/api/v1/explain?${qs}`, undefined, null);
    const r = await q('name=www.example.test&client=127.0.0.1&ecs=198.18.1.0/24');
    expect(r.status).toBe(200);
    const body = r.body as unknown as {
      lines: string[];
      regions: { name: string; source: string; agents: unknown[] }[];
    };
    expect(body.lines).toContain('chosen: eu-west');
    expect(body.lines.join('\n')).toMatch(/client \(from ecs\): city London/);
    expect(body.regions.map((x) => x.name).sort()).toEqual(['ap-southeast', 'eu-west', 'us-east']);
    expect(body.regions[0]).toHaveProperty('agents');
    expect((await q('name=www.example.test&client=not-an-ip')).status).toBe(400);
    expect((await q('name=www.example.test&client=127.0.0.1&type=BOGUS')).status).toBe(400);
    expect((await q('client=127.0.0.1')).status).toBe(400);
    expect((await q('name=www.example.test&client=127.0.0.1&ecs=1.2.3.4/99')).status).toBe(400);
  });

  it('refuses writes without a valid token', async () => {
    expect((await call('POST', '/api/v1/regions/eu-west/drain', { reason: 'x' }, null)).status).toBe(401);
    expect(
      (await call('POST', '/api/v1/regions/eu-west/drain', { reason: 'x' }, 'wrong-token-0123456789abcdef')).status,
    ).toBe(401);
  });

  it('validates bodies and names', async () => {
    expect((await call('POST', '/api/v1/regions/eu-west/drain', {})).status).toBe(400);
    expect((await call('PUT', '/api/v1/regions/eu-west/override', { reason: 'x', status: 'sideways' })).status).toBe(
      400,
    );
    expect((await call('PUT', '/api/v1/regions/eu-west/override', { reason: 'x', colour: 'red' })).status).toBe(400);
    expect((await call('PUT', '/api/v1/regions/eu-west/override', { reason: 'x', weight: -1 })).status).toBe(400);
    expect((await call('POST', '/api/v1/regions/mars/drain', { reason: 'x' })).status).toBe(404);
    expect((await call('POST', '/api/v1/regions/..%2Fetc/drain', { reason: 'x' })).status).toBe(400);
  });

  it('a drain through the API changes DNS answers within 1 s, and undrain restores them', async () => {
    expect(await ask()).toBe('198.51.100.20');
    const t0 = Date.now();
    const r = await call('POST', '/api/v1/regions/eu-west/drain', {
      reason: 'planned maintenance',
      expires_in_s: 3600,
    });
    expect(r.status).toBe(200);
    while ((await ask()) !== '198.51.100.10')
      if (Date.now() - t0 > 3000) throw new Error('DNS did not follow the drain');
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(1000);
    // The view says which signal decided (the override) and that nothing holds it.
    const drained = ((await call('GET', '/api/v1/regions')).body as Record<string, unknown>[]).find(
      (x) => x.name === 'eu-west',
    );
    expect(drained).toMatchObject({ status: 'draining', source: 'override', held: false });
    const t1 = Date.now();
    expect((await call('DELETE', '/api/v1/regions/eu-west/override?reason=done')).status).toBe(200);
    while ((await ask()) !== '198.51.100.20')
      if (Date.now() - t1 > 3000) throw new Error('DNS did not follow the undrain');
    expect(Date.now() - t1).toBeLessThan(1000);
  });

  it('the guard rail refuses a change that takes too many regions out, unless forced', async () => {
    expect((await call('PUT', '/api/v1/regions/us-east/override', { status: 'down', reason: 'a' })).status).toBe(200);
    await waitFor(
      async () => (await regionView('us-east'))?.status === 'down',
      'the control plane to see us-east down',
    );
    const refused = await call('POST', '/api/v1/regions/ap-southeast/drain', { reason: 'b' });
    expect(refused.status).toBe(409);
    expect(String(refused.body.error)).toMatch(/guard rail/);
    expect((await call('POST', '/api/v1/regions/ap-southeast/drain', { reason: 'b', force: true })).status).toBe(200);
    await call('DELETE', '/api/v1/regions/us-east/override?reason=cleanup');
    await call('DELETE', '/api/v1/regions/ap-southeast/override?reason=cleanup');
  });

  it('sets weights with a reason', async () => {
    const r = await call('PUT', '/api/v1/regions/eu-west/override', { weight: 7, reason: 'shift load' });
    expect(r.status).toBe(200);
    await waitFor(async () => (await regionView('eu-west'))?.weight === 7, 'the weight to reach the region view');
  });

  it('sets weights per steered name, which the weighted policy follows', async () => {
    const askW = async () => (await kdig(dns.port, ['+short', 'w.example.test', 'A'])).trim();
    for (const [region, weight] of [
      ['us-east', 0],
      ['ap-southeast', 0],
      ['eu-west', 1],
    ] as const) {
      expect(
        (await call('PUT', `/api/v1/services/w/regions/${region}/weight`, { weight, reason: 'canary in eu-west' }))
          .status,
      ).toBe(200);
    }
    const t0 = Date.now();
    while ((await askW()) !== '198.51.100.20') if (Date.now() - t0 > 2000) throw new Error('weights not followed');
    for (let i = 0; i < 30; i++) expect(await askW()).toBe('198.51.100.20');
    // The region-wide weight of eu-west (7, set above) did not decide this: the per-name one did.
    expect((await call('PUT', '/api/v1/services/w/regions/mars/weight', { weight: 1, reason: 'x' })).status).toBe(404);
    expect((await call('PUT', '/api/v1/services/nope/regions/eu-west/weight', { weight: 1, reason: 'x' })).status).toBe(
      404,
    );
    for (const region of ['us-east', 'ap-southeast', 'eu-west']) {
      expect((await call('DELETE', `/api/v1/services/w/regions/${region}/weight?reason=canary%20done`)).status).toBe(
        200,
      );
    }
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 2; i++) seen.add(await askW());
    expect(seen.size).toBeGreaterThan(1);
  });

  it('audits every change: who, what, why, when', async () => {
    const audit = (await call('GET', '/api/v1/audit?limit=50')).body as {
      who: string;
      action: string;
      target: string;
      why: string;
      at: string;
    }[];
    expect(audit[0]).toMatchObject({
      who: 'alice',
      action: 'clear-service-weight',
      target: 'w/eu-west',
      why: 'canary done',
    });
    expect(audit.some((a) => a.action === 'override' && a.target === 'eu-west' && a.why === 'shift load')).toBe(true);
    expect(audit.some((a) => a.action === 'drain' && a.why === 'planned maintenance')).toBe(true);
    expect(audit.some((a) => a.action === 'clear-override' && a.why === 'done')).toBe(true);
    expect(readFileSync(auditPath, 'utf8').trim().split('\n').length).toBe(audit.length);
  });

  it('publishes an OpenAPI document for its routes', async () => {
    const doc = (await call('GET', '/openapi.json')).body as unknown as {
      openapi: string;
      paths: Record<string, Record<string, { security?: unknown }>>;
    };
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/regions',
        '/api/v1/regions/{name}/drain',
        '/api/v1/regions/{name}/override',
        '/api/v1/audit',
      ]),
    );
    expect(doc.paths['/api/v1/regions/{name}/drain']?.post?.security).toEqual([{ bearer: [] }]);
  });
});

describe('control API under hostile input', () => {
  const raw = async (method: string, path: string, body: string, token?: string) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });
    return { status: res.status, body: (await res.json()) as { error?: string } };
  };

  it('checks the token before it reads the body: a large unauthenticated body is refused at once', async () => {
    const junk = `{"reason":"${'x'.repeat(900_000)}", "a": [${'[1,'.repeat(20_000)}`;
    const r = await raw('POST', '/api/v1/regions/us-east/drain', junk);
    expect(r.status).toBe(401);
    // With a token the same body is parsed, and refused as the malformed JSON it is.
    expect((await raw('POST', '/api/v1/regions/us-east/drain', junk, TOKEN)).status).toBe(400);
  });

  it('scopes and regions: a read-only token cannot drain, a region token only its region', async () => {
    expect((await call('POST', '/api/v1/regions/us-east/drain', { reason: 'x' }, VIEWER)).status).toBe(403);
    expect((await call('POST', '/api/v1/regions/eu-west/drain', { reason: 'x' }, ONCALL)).status).toBe(403);
    expect((await call('PUT', '/api/v1/regions/us-east/override', { weight: 2, reason: 'x' }, ONCALL)).status).toBe(
      403,
    );
    expect((await call('POST', '/api/v1/regions/us-east/drain', { reason: 'x', force: true }, ONCALL)).status).toBe(
      403,
    );
    expect((await call('POST', '/api/v1/regions/us-east/drain', { reason: 'on call' }, ONCALL)).status).toBe(200);
    expect((await call('DELETE', '/api/v1/regions/us-east/override?reason=done', undefined, ONCALL)).status).toBe(200);
    const audit = (await call('GET', '/api/v1/audit?limit=5')).body as unknown as { who: string; action: string }[];
    expect(audit[0]).toMatchObject({ who: 'oncall', action: 'clear-override' });
  });

  it('refuses coerced types, control characters, bidi overrides, lone surrogates and over-long reasons', async () => {
    const put = (body: string) => raw('PUT', '/api/v1/regions/ap-southeast/override', body, TOKEN);
    expect((await put('{"status":["down"],"reason":"coerced"}')).status).toBe(400);
    expect((await put('{"weight":"5","reason":"coerced"}')).status).toBe(400);
    expect((await put('{"status":"draining","reason":"nul \\u0000 here"}')).status).toBe(400);
    expect((await put('{"status":"draining","reason":"bidi \\u202e txet"}')).status).toBe(400);
    expect((await put('{"status":"draining","reason":"lone \\ud800 surrogate"}')).status).toBe(400);
    const long = encodeURIComponent('x'.repeat(501));
    expect((await call('DELETE', `/api/v1/regions/ap-southeast/override?reason=${long}`)).status).toBe(400);
    const regions = (await call('GET', '/api/v1/regions')).body as { name: string; status: string }[];
    expect(regions.find((r) => r.name === 'ap-southeast')?.status).toBe('up');
  });

  it('each part of an override is changed only by a scope that covers it (item 8)', async () => {
    type Part = { who: string; reason: string; expiresAt?: number; status?: string; weight?: number };
    const parts = async () => {
      const r = (
        (await call('GET', '/api/v1/regions')).body as unknown as {
          name: string;
          override: Part | null;
          weightOverride: Part | null;
        }[]
      ).find((x) => x.name === 'us-east');
      return { status: r?.override ?? null, weight: r?.weightOverride ?? null };
    };
    const year = 31_536_000;
    // The admin sets a weight for an hour; on call drains the same region for 10 minutes.
    expect(
      (await call('PUT', '/api/v1/regions/us-east/override', { weight: 4, reason: 'admin', expires_in_s: 3600 }))
        .status,
    ).toBe(200);
    expect(
      (await call('POST', '/api/v1/regions/us-east/drain', { reason: 'on call', expires_in_s: 600 }, ONCALL)).status,
    ).toBe(200);
    await waitFor(async () => (await parts()).status?.status === 'draining', 'the drain to show');
    const before = await parts();
    expect(before.weight).toMatchObject({ weight: 4, who: 'alice', reason: 'admin' });
    // A drain token re-drains for a year: its own part gets the year, the admin's weight keeps its hour.
    expect(
      (await call('POST', '/api/v1/regions/us-east/drain', { reason: 'longer', expires_in_s: year }, ONCALL)).status,
    ).toBe(200);
    await waitFor(async () => (await parts()).status?.reason === 'longer', 'the re-drain to show');
    expect((await parts()).weight).toEqual(before.weight);
    // A weight token sets a weight for a year: the drain keeps its reason, author and expiry.
    const drain = (await parts()).status;
    expect(
      (await call('PUT', '/api/v1/regions/us-east/override', { weight: 9, reason: 'w', expires_in_s: year }, WEIGHTER))
        .status,
    ).toBe(200);
    await waitFor(async () => (await parts()).weight?.weight === 9, 'the weight to show');
    expect((await parts()).status).toEqual(drain);
    // Neither token can remove or change the other's part.
    expect(
      (await call('PUT', '/api/v1/regions/us-east/override', { status: 'up', reason: 'x' }, WEIGHTER)).status,
    ).toBe(403);
    expect((await call('DELETE', '/api/v1/regions/us-east/override?reason=x', undefined, WEIGHTER)).status).toBe(403);
    expect((await call('DELETE', '/api/v1/regions/us-east/weight?reason=x', undefined, ONCALL)).status).toBe(403);
    // Undrain removes the status only: the weight stays.
    expect((await call('DELETE', '/api/v1/regions/us-east/override?reason=done', undefined, ONCALL)).status).toBe(200);
    await waitFor(async () => (await parts()).status === null, 'the undrain to show');
    expect((await parts()).weight).toMatchObject({ weight: 9, who: 'weighter' });
    expect((await regionView('us-east'))?.weight).toBe(9);
    expect((await call('DELETE', '/api/v1/regions/us-east/weight?reason=done', undefined, WEIGHTER)).status).toBe(200);
    await waitFor(async () => (await regionView('us-east'))?.weight === null, 'the weight removal to show');
    // A change names what it changes.
    expect((await call('PUT', '/api/v1/regions/us-east/override', { reason: 'nothing' })).status).toBe(400);
  });

  it('a weight-only change keeps a drain (fields merge, they do not replace)', async () => {
    expect((await call('POST', '/api/v1/regions/eu-west/drain', { reason: 'maintenance' })).status).toBe(200);
    expect(
      (await call('PUT', '/api/v1/regions/eu-west/override', { weight: 3, reason: 'and less weight' })).status,
    ).toBe(200);
    await waitFor(async () => (await regionView('eu-west'))?.weight === 3, 'the weight to apply');
    expect((await regionView('eu-west'))?.status).toBe('draining');
    await call('DELETE', '/api/v1/regions/eu-west/override?reason=cleanup');
  });

  it('reads can require a token (read_requires_token)', async () => {
    const cfg = parseConfigText(readFileSync(join(auditPath, '..', 'config.yaml'), 'utf8'));
    const strict: Config = {
      ...cfg,
      control: {
        ...(cfg.control as NonNullable<Config['control']>),
        api: { ...(cfg.control as NonNullable<Config['control']>).api, readRequiresToken: true },
      },
    };
    const c = await startControl(strict, store, createLogger('strict', 'silent'));
    try {
      const get = (token?: string) =>
        fetch(`http://127.0.0.1:${c.port}/api/v1/regions`, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
        }).then((r) => r.status);
      expect(await get()).toBe(401);
      expect(await get(VIEWER)).toBe(200);
      expect(await get(ONCALL)).toBe(403);
    } finally {
      await c.close();
    }
  });

  it('closes within seconds although a client holds a connection open without sending a request', async () => {
    const cfg = parseConfigText(readFileSync(join(auditPath, '..', 'config.yaml'), 'utf8'));
    const c = await startControl(cfg, store, createLogger('close', 'silent'));
    const silent = connect(c.port, '127.0.0.1');
    await new Promise((r) => silent.once('connect', r));
    const t0 = Date.now();
    await c.close();
    expect(Date.now() - t0).toBeLessThan(5000);
    silent.destroy();
  });

  it('a gtm control that cannot bind its port exits non-zero instead of running on', async () => {
    const cfg = join(auditPath, '..', 'config.yaml');
    const r = await run(
      process.execPath,
      [join(ROOT, 'bin', 'gtm.js'), 'control', '--config', cfg, '--port', String(control.port)],
      15_000,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/EADDRINUSE/);
  });

  it('the DNS server started without any token in its environment (GTM_UNSET_TOKEN_FOR_TEST is unset)', async () => {
    expect(process.env.GTM_UNSET_TOKEN_FOR_TEST).toBeUndefined();
    expect(dns.proc.exitCode).toBeNull();
    expect(await ask()).toMatch(/^198\.51\.100\.\d+$/);
  });
});

/** One request as bytes on a socket (no client normalises the target): the status code. */
function rawStatus(port: number, requestLine: string, headers: string[] = [], body = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.setTimeout(3000, () => sock.destroy(new Error(`no answer to ${requestLine}`)));
    sock.on('data', (d) => {
      data += d;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) {
        resolve(Number(m[1]));
        sock.destroy();
      }
    });
    sock.on('error', reject);
    const len = body ? [`content-type: application/json`, `content-length: ${Buffer.byteLength(body)}`] : [];
    sock.write([requestLine, 'host: x', 'connection: close', ...headers, ...len, '', body].join('\r\n'));
  });
}

describe('control API authorisation on the matched route (item 2)', () => {
  let strict: ControlServer;
  beforeAll(async () => {
    const cfg = parseConfigText(readFileSync(join(auditPath, '..', 'config.yaml'), 'utf8'));
    const c = cfg.control as NonNullable<Config['control']>;
    strict = await startControl(
      { ...cfg, control: { ...c, api: { ...c.api, readRequiresToken: true } } },
      store,
      createLogger('strict', 'silent'),
    );
  });
  afterAll(() => strict?.close());

  /** Ways to spell a path that a router may take for it (encodings, dot segments, absolute form). */
  const spellings = (path: string) => [
    path,
    path.replace('/api/', '/%61pi/'),
    path.replace('/api/', '/%61%70%69/'),
    path.replace('/v1/', '/%761/'),
    path.replace(/\/([a-z])([a-z]*)$/, (_m, a: string, rest: string) => `/%${a.charCodeAt(0).toString(16)}${rest}`),
    `//${path.slice(1)}`,
    path.replace('/api/', '/api//'),
    path.replace('/api/', '/./api/'),
    path.replace('/api/v1/', '/api/x/../v1/'),
    path.replace('/api/', '/API/'),
    `${path}/`,
    `${path}?`,
    `${path};x`,
    `http://x${path}`,
    `http://127.0.0.1${path.replace('/api/', '/%61pi/')}`,
  ];

  it('no spelling of a read route answers without a token', async () => {
    const reads = [
      '/api/v1/state',
      '/api/v1/audit',
      '/api/v1/regions',
      '/api/v1/explain?name=www.example.test&type=A&client=192.0.2.1',
      '/metrics',
    ];
    const open: string[] = [];
    for (const path of reads)
      for (const target of spellings(path)) {
        const code = await rawStatus(strict.port, `GET ${target} HTTP/1.1`);
        // Refused (401), unknown (404) or malformed (400): never answered, never a crash.
        if (![400, 401, 404].includes(code)) open.push(`${target} -> ${code}`);
      }
    expect(open).toEqual([]);
    // The same reads with a token do answer (the spellings above were refused for the token alone).
    expect(await rawStatus(strict.port, 'GET /%61pi/v1/state HTTP/1.1', [`authorization: Bearer ${VIEWER}`])).toBe(200);
  });

  it('no spelling of a write route reaches its handler without a token', async () => {
    const writes: [string, string, string][] = [
      ['POST', '/api/v1/regions/us-east/drain', '{"reason":"x"}'],
      ['PUT', '/api/v1/regions/us-east/override', '{"status":"down","reason":"x"}'],
      ['DELETE', '/api/v1/regions/us-east/override?reason=x', ''],
      ['DELETE', '/api/v1/regions/us-east/weight?reason=x', ''],
      ['PUT', '/api/v1/services/w/regions/us-east/weight', '{"weight":1,"reason":"x"}'],
      ['DELETE', '/api/v1/services/w/regions/us-east/weight?reason=x', ''],
    ];
    const open: string[] = [];
    for (const [method, path, body] of writes)
      for (const target of spellings(path.split('?')[0] as string).map((t) =>
        path.includes('?') ? `${t}?reason=x` : t,
      ))
        for (const m of [method, method.toLowerCase()]) {
          const code = await rawStatus(strict.port, `${m} ${target} HTTP/1.1`, [], body);
          if (![400, 401, 404].includes(code)) open.push(`${m} ${target} -> ${code}`);
        }
    expect(open).toEqual([]);
    // Nothing was written by any of them.
    expect(await store.get('overrides/regions/us-east')).toBeUndefined();
  });

  it('explain: one answerer for the process, and a flood from one client is limited, not the others (item 3)', async () => {
    const explain = (token: string) =>
      fetch(`http://127.0.0.1:${strict.port}/api/v1/explain?name=www.example.test&client=192.0.2.1`, {
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await explain(TOKEN)).status).toBe(200);
    const subscribers = strict.state.subscribers;
    const codes: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 40; i++) {
      const r = await explain(TOKEN);
      codes.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
      await r.arrayBuffer();
    }
    expect(codes.filter((c) => c === 200).length).toBeGreaterThanOrEqual(15);
    expect(codes.filter((c) => c === 429).length).toBeGreaterThanOrEqual(15);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // Another client is not limited by the first one's flood.
    expect((await explain(VIEWER)).status).toBe(200);
    // No answerer (nor anything else) subscribed per request.
    expect(strict.state.subscribers).toBe(subscribers);
  });

  it('every API route declares who may use it, and the OpenAPI document lists the same routes', async () => {
    const docs = (await (await fetch(`http://127.0.0.1:${strict.port}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const listed = Object.entries(docs.paths).flatMap(([p, ms]) => Object.keys(ms).map((m) => `${m} ${p}`));
    expect(listed).toContain('delete /api/v1/regions/{name}/weight');
    // Every listed route but the document itself refuses a request without a token.
    for (const route of listed) {
      const [m, p] = route.split(' ') as [string, string];
      if (p === '/api/v1/openapi.json') continue;
      const target = p.replace('{name}', 'us-east').replace('{service}', 'w');
      const code = await rawStatus(
        strict.port,
        `${m.toUpperCase()} ${target} HTTP/1.1`,
        [],
        m === 'get' || m === 'delete' ? '' : '{}',
      );
      expect([401], `${route}`).toContain(code);
    }
  });
});
