// The shared store with credentials (hardening round 3, item 10): etcd over TLS with client
// certificates, users and RBAC from `gtm store rbac --apply`. Each PoP's agent writes only its
// own report, a probe only its own vantage key, DNS only reads, and nobody without credentials
// (or with a certificate from another CA) reads anything.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, storeUser, type AgentReport } from '../../src/contract/index.js';
import { EtcdStateStore, type EtcdAccess } from '../../src/state/etcd-store.js';
import { kdig, ROOT, run, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { startEtcd, type RunningEtcd } from '../helpers/etcd.js';
import { makePki, type Pki } from '../helpers/pki.js';

let etcd: RunningEtcd;
let pki: Pki;
let cfg: string;
const dir = tempDir('gtm-etcd-access-');
const secrets = join(dir, 'secrets');
const prefix = '/gtm-rbac/';
const opened: EtcdStateStore[] = [];

const report = (pop: string, region: string): AgentReport => ({
  pop,
  region,
  serving: true,
  sessionUp: true,
  vips: [{ prefix: 'v/32', state: 'UP' }],
  at: Date.now(),
});

/** A store as `user` (password from the file `gtm store rbac` wrote), with our client certificate. */
function as(user: string | undefined, tls: EtcdAccess['tls'] = { ca: pki.ca, ...pki.client('gtm-client') }) {
  let auth: EtcdAccess['auth'];
  if (user) {
    const env = `GTM_TEST_PW_${user.replace(/-/g, '_').toUpperCase()}`;
    process.env[env] = readFileSync(join(secrets, user), 'utf8').trim();
    auth = { user, passwordEnv: env };
  }
  const s = new EtcdStateStore([etcd.endpoint], prefix, { tls, auth });
  opened.push(s);
  return s;
}

beforeAll(async () => {
  pki = makePki(dir);
  etcd = await startEtcd({ tls: { ...pki.server, clientCa: pki.ca } });
  const client = pki.client('gtm-client');
  cfg = testConfig(dir);
  writeFileSync(
    cfg,
    `${readFileSync(cfg, 'utf8')}
control:
  store:
    etcd: ["${etcd.endpoint}"]
    prefix: ${prefix}
    tls: { ca: ${pki.ca}, cert: ${client.cert}, key: ${client.key} }
    auth: { user_env: GTM_ETCD_USER, password_env: GTM_ETCD_PASSWORD }
  lease_ms: 60000
pops:
  dub:
    region: eu-west
    bgp: { asn: 65002, router_id: 10.0.2.2, neighbors: [{ address: 10.0.2.1, asn: 65000 }], next_hop: 10.0.2.2 }
    vips: [{ address: vip, nodes: [{ name: lb1, address: 10.0.2.11 }], checks: [{ type: tcp, port: 80 }] }]
  nyc:
    region: us-east
    bgp: { asn: 65001, router_id: 10.0.1.2, neighbors: [{ address: 10.0.1.1, asn: 65000 }], next_hop: 10.0.1.2 }
    vips: [{ address: vip, nodes: [{ name: lb1, address: 10.0.1.11 }], checks: [{ type: tcp, port: 80 }] }]
`,
  );
  const r = await run(
    process.execPath,
    [join(ROOT, 'bin', 'gtm.js'), 'store', 'rbac', '--config', cfg, '--probe', 'vp-x', '--apply', '--secrets', secrets],
    30_000,
    { ...process.env, GTM_ETCD_ROOT_PASSWORD: 'root-test-password-0123' },
  );
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/created gtm-agent-dub: password in /);
  expect(r.stdout).toMatch(/etcd authentication: on/);
}, 60_000);

afterAll(async () => {
  for (const s of opened) await s.close().catch(() => undefined);
  await etcd?.stop();
});

describe('etcd with TLS, users and roles', () => {
  it("an agent writes its own report, and cannot write another PoP's, a probe's or an operator's keys", async () => {
    const dub = as(storeUser.agent('dub'));
    await dub.put(KEYS.agent('dub'), report('dub', 'eu-west'), { leaseMs: 60_000 });
    await dub.put(KEYS.vantage('dub'), { point: 'dub', at: Date.now(), targets: [] });
    await expect(dub.put(KEYS.agent('nyc'), report('dub', 'eu-west'))).rejects.toThrow(/permission denied/i);
    await expect(dub.put(KEYS.vantage('vp-x'), { point: 'vp-x', at: 1, targets: [] })).rejects.toThrow(
      /permission denied/i,
    );
    await expect(
      dub.put(KEYS.regionOverride('us-east'), { status: 'down', reason: 'x', who: 'dub', at: 1 }),
    ).rejects.toThrow(/permission denied/i);
    // It reads what it follows: other PoPs' reports and operators' drains.
    expect((await dub.list(KEYS.agents)).map((e) => e.key)).toContain(KEYS.agent('dub'));
    expect(await dub.list(KEYS.regionOverrides)).toEqual([]);
  });

  it('a probe writes only its own vantage key; DNS only reads; the control plane writes overrides', async () => {
    const probe = as(storeUser.probe('vp-x'));
    await probe.put(KEYS.vantage('vp-x'), { point: 'vp-x', at: Date.now(), targets: [] });
    await expect(probe.put(KEYS.vantage('dub'), { point: 'dub', at: 1, targets: [] })).rejects.toThrow(
      /permission denied/i,
    );
    await expect(probe.put(KEYS.agent('dub'), report('dub', 'eu-west'))).rejects.toThrow(/permission denied/i);
    const dns = as(storeUser.dns);
    expect((await dns.list(KEYS.vantages)).map((e) => e.key).sort()).toEqual([
      KEYS.vantage('dub'),
      KEYS.vantage('vp-x'),
    ]);
    await expect(dns.put(KEYS.agent('dub'), report('dub', 'eu-west'))).rejects.toThrow(/permission denied/i);
    const control = as(storeUser.control);
    await control.put(KEYS.regionOverride('ap-southeast'), { status: 'draining', reason: 'rbac', who: 'ci', at: 1 });
    await control.delete(KEYS.regionOverride('ap-southeast'));
  });

  it('no user, a wrong password, no client certificate or a certificate from another CA: nothing is read', async () => {
    await expect(as(undefined).list(KEYS.agents)).rejects.toThrow();
    process.env.GTM_TEST_WRONG_PW = 'not-the-password';
    const wrong = new EtcdStateStore([etcd.endpoint], prefix, {
      tls: { ca: pki.ca, ...pki.client('gtm-client') },
      auth: { user: storeUser.dns, passwordEnv: 'GTM_TEST_WRONG_PW' },
    });
    opened.push(wrong);
    await expect(wrong.list(KEYS.agents)).rejects.toThrow();
    await expect(as(storeUser.dns, { ca: pki.ca }).list(KEYS.agents)).rejects.toThrow();
    const other = makePki(tempDir('gtm-other-ca-'));
    await expect(as(storeUser.dns, { ca: pki.ca, ...other.client('intruder') }).list(KEYS.agents)).rejects.toThrow();
  }, 60_000);

  it('a real gtm dns, as gtm-dns over TLS, follows what the agent user writes', async () => {
    let dns: RunningDns | undefined;
    process.env.GTM_ETCD_USER = storeUser.dns;
    process.env.GTM_ETCD_PASSWORD = readFileSync(join(secrets, storeUser.dns), 'utf8').trim();
    try {
      // Both PoPs report up, each as itself.
      await as(storeUser.agent('dub')).put(KEYS.agent('dub'), report('dub', 'eu-west'));
      await as(storeUser.agent('nyc')).put(KEYS.agent('nyc'), report('nyc', 'us-east'));
      dns = await startDns(cfg, 1);
      const ask = async () =>
        (await kdig(dns!.port, ['+short', '+subnet=198.18.1.0/24', 'www.example.test', 'A'])).trim();
      expect(await ask()).toBe('198.51.100.20'); // London -> eu-west
      const dub = as(storeUser.agent('dub'));
      await dub.put(KEYS.agent('dub'), { ...report('dub', 'eu-west'), vips: [{ prefix: 'v/32', state: 'DRAINING' }] });
      await dns.waitLog(/"region":"eu-west","from":"up","to":"draining"/, 10_000);
      expect(await ask()).not.toBe('198.51.100.20');
    } finally {
      delete process.env.GTM_ETCD_USER;
      delete process.env.GTM_ETCD_PASSWORD;
      await dns?.stop();
    }
  }, 60_000);
});
