// The shared state store and the path from a state change to the DNS answer, through the
// real `gtm dns` server.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStateStore } from '../../src/state/index.js';
import { KEYS, type AgentReport, type VipState } from '../../src/contract/index.js';
import { kdig, ROOT, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { waitFor } from '../helpers/wait.js';

describe('file state store', () => {
  it('keeps every write from two processes writing at once (lock + atomic rename)', async () => {
    const path = join(tempDir(), 'state.json');
    const script = (tag: string) =>
      `import('${join(ROOT, 'dist', 'src', 'state', 'index.js')}').then(async ({ FileStateStore }) => { const s = new FileStateStore('${path}'); for (let i = 0; i < 150; i++) await s.put('k/${tag}' + i, { i }); })`;
    await Promise.all(
      ['a', 'b'].map(
        (t) =>
          new Promise<void>((res, rej) =>
            execFile(process.execPath, ['-e', script(t)], (err) => (err ? rej(err) : res())),
          ),
      ),
    );
    const s = new FileStateStore(path);
    expect(await s.list('k/')).toHaveLength(300);
    expect(JSON.parse(readFileSync(path, 'utf8')).rev).toBe(300);
  });

  it('expires leases and tells watchers', async () => {
    const s = new FileStateStore(join(tempDir(), 'state.json'));
    const seen: number[] = [];
    const stop = s.watch('agents/', (e) => seen.push(e.length));
    await s.put('agents/x', { ok: true }, { leaseMs: 300 });
    expect(await s.get('agents/x')).toBeDefined();
    await waitFor(async () => (await s.get('agents/x')) === undefined, 'the 300 ms lease to expire', 3000);
    await waitFor(() => seen.at(-1) === 0, 'watchers to see the expiry', 3000);
    expect(seen).toContain(1);
    stop();
    await s.close();
  });

  it('refuses to overwrite a corrupt state file', async () => {
    const path = join(tempDir(), 'state.json');
    writeFileSync(path, '{not json');
    await expect(new FileStateStore(path).put('a', 1)).rejects.toThrow(/unreadable.*refusing to overwrite/);
  });
});

/** The control section and the PoP dub (eu-west) both state-to-DNS tests use. */
const sharedStateYaml = (statePath: string) => `control:
  store: { file: ${statePath} }
  lease_ms: 1000
  heartbeat_ms: 200
  max_regions_out: 0.7
pops:
  dub:
    region: eu-west
    bgp: { asn: 65002, router_id: 10.0.2.2, neighbors: [{ address: 10.0.2.1, asn: 65000 }], next_hop: 10.0.2.2 }
    vips: [{ address: vip, nodes: [{ name: lb1, address: 10.0.2.11 }], checks: [{ type: tcp, port: 80 }] }]
`;

/** A PoP agent's heartbeat: its VIP in `state`, serving unless DOWN. */
const report = (pop: string, region: string, state: VipState = 'UP'): AgentReport => ({
  pop,
  region,
  serving: state !== 'DOWN',
  sessionUp: true,
  vips: [{ prefix: 'v/32', state }],
  at: Date.now(),
});

describe('state to DNS', () => {
  let dns: RunningDns;
  let store: FileStateStore;
  let cfgPath: string;
  const ask = async () => (await kdig(dns.port, ['+short', '+subnet=198.18.1.0/24', 'www.example.test', 'A'])).trim();

  beforeAll(async () => {
    const dir = tempDir();
    const statePath = join(dir, 'state.json');
    const cfg = testConfig(dir);
    cfgPath = cfg;
    // us-east and eu-west have agents; ap-southeast has none (configured status).
    writeFileSync(
      cfg,
      `${readFileSync(cfg, 'utf8')}
${sharedStateYaml(statePath)}  nyc:
    region: us-east
    bgp: { asn: 65001, router_id: 10.0.1.2, neighbors: [{ address: 10.0.1.1, asn: 65000 }], next_hop: 10.0.1.2 }
    vips: [{ address: vip, nodes: [{ name: lb1, address: 10.0.1.11 }], checks: [{ type: tcp, port: 80 }] }]
`,
    );
    store = new FileStateStore(statePath);
    await store.put(KEYS.agent('dub'), report('dub', 'eu-west'), { leaseMs: 60_000 });
    await store.put(KEYS.agent('nyc'), report('nyc', 'us-east'), { leaseMs: 60_000 });
    dns = await startDns(cfg, 2);
  });
  afterAll(async () => {
    await dns?.stop();
    await store?.close();
  });

  it('an agent reporting DRAINING moves DNS answers within 1 s', async () => {
    expect(await ask()).toBe('198.51.100.20'); // London -> eu-west
    const t0 = Date.now();
    await store.put(KEYS.agent('dub'), report('dub', 'eu-west', 'DRAINING'), { leaseMs: 60_000 });
    while ((await ask()) !== '198.51.100.10') {
      if (Date.now() - t0 > 3000) throw new Error('DNS did not follow');
    }
    expect(Date.now() - t0).toBeLessThan(1000);
    await dns.waitLog(/"region":"eu-west","from":"up","to":"draining"/);
  });

  it('an expired heartbeat lease takes the region out; a fresh one brings it back', async () => {
    await store.put(KEYS.agent('dub'), report('dub', 'eu-west'), { leaseMs: 1000 });
    const t0 = Date.now();
    while ((await ask()) !== '198.51.100.20') if (Date.now() - t0 > 3000) throw new Error('region did not come back');
    while ((await ask()) !== '198.51.100.10') if (Date.now() - t0 > 5000) throw new Error('lease expiry not followed');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    await dns.waitLog(/lease expired/);
  });

  it('an operator override with an expiry wins, then ends', async () => {
    await store.put(KEYS.agent('dub'), report('dub', 'eu-west'), { leaseMs: 60_000 });
    await store.put(KEYS.regionOverride('eu-west'), {
      status: 'down',
      reason: 'test',
      who: 'ci',
      at: Date.now(),
      expiresAt: Date.now() + 1500,
    });
    const t0 = Date.now();
    while ((await ask()) !== '198.51.100.10')
      if (Date.now() - t0 > 1000) throw new Error('override not followed in 1 s');
    while ((await ask()) !== '198.51.100.20') if (Date.now() - t0 > 5000) throw new Error('override did not expire');
  });

  it('guard rail: the health signal that would take a region past the limit is held (fail open)', async () => {
    const down = (pop: string, region: string) =>
      store.put(KEYS.agent(pop), report(pop, region, 'DOWN'), { leaseMs: 60_000 });
    // 1 of 3 out (forced), then 2 of 3 (67% <= 70%): both followed.
    await store.put(KEYS.regionOverride('ap-southeast'), {
      status: 'down',
      reason: 'forced in test',
      who: 'ci',
      at: Date.now(),
      force: true,
    });
    await down('dub', 'eu-west');
    const t0 = Date.now();
    while ((await ask()) !== '198.51.100.10') if (Date.now() - t0 > 2000) throw new Error('eu-west out not followed');
    // 3 of 3 would be out on health: us-east is held in DNS instead of going dark, and so is
    // eu-west, which went out moments before (within 10 s: the same signal, reaching it first).
    await down('nyc', 'us-east');
    await dns.waitLog(/"held":\["us-east","eu-west"\]|"held":\["eu-west","us-east"\]/);
    expect(dns.log()).toMatch(/guard rail: keeping regions in DNS/);
    // Answered from a held region (the nearest of the two), never the forced-down one.
    expect(['198.51.100.10', '198.51.100.20']).toContain(await ask());
  });

  it('nothing is lost when the DNS server restarts: it starts from the stored state', async () => {
    await store.put(KEYS.regionOverride('us-east'), {
      status: 'draining',
      reason: 'kept across restart',
      who: 'ci',
      at: Date.now(),
      force: true,
    });
    await store.delete(KEYS.regionOverride('ap-southeast'));
    const t0 = Date.now();
    while ((await ask()) === '198.51.100.10') if (Date.now() - t0 > 2000) throw new Error('override not followed');
    await dns.stop();
    dns = await startDns(cfgPath, 2);
    expect(await ask()).not.toBe('198.51.100.10');
    // Straight to the stored state: no transient from a half-read store.
    await dns.waitLog(/"region":"us-east","from":"up","to":"draining"/);
    expect(dns.log()).not.toMatch(/"region":"us-east","from":"up","to":"down"/);
  });
});

describe('a corrupt shared state file', () => {
  it('is reported and counted, leases still expire on the clock, writers refuse it, and it can be restored', async () => {
    const dir = tempDir();
    const statePath = join(dir, 'state.json');
    const cfg = testConfig(dir);
    writeFileSync(
      cfg,
      `${readFileSync(cfg, 'utf8')}
${sharedStateYaml(statePath)}`,
    );
    const store = new FileStateStore(statePath);
    // dub heartbeats as an agent does until the file is damaged (a start under load may take
    // longer than one lease).
    let last: Promise<unknown> = Promise.resolve();
    const beat = () => (last = store.put(KEYS.agent('dub'), report('dub', 'eu-west'), { leaseMs: 1500 }));
    await beat();
    const heartbeat = setInterval(() => void beat().catch(() => undefined), 300);
    await store.put(KEYS.regionOverride('ap-southeast'), {
      status: 'draining',
      reason: 'kept',
      who: 'ci',
      at: Date.now(),
    });
    const dns = await startDns(cfg, 2);
    try {
      const ask = async () =>
        (await kdig(dns.port, ['+short', '+subnet=198.18.1.0/24', 'www.example.test', 'A'])).trim();
      expect(await ask()).toBe('198.51.100.20'); // London -> eu-west
      clearInterval(heartbeat);
      await last.catch(() => undefined);
      const good = readFileSync(statePath, 'utf8');
      writeFileSync(statePath, good.slice(0, Math.floor(good.length / 2))); // truncated by something else
      await dns.waitLog(/shared state unreadable/);
      // dub's lease runs out although the file cannot be read: London moves to us-east.
      await waitFor(async () => (await ask()) === '198.51.100.10', 'the lease to expire on the clock', 5000, 100);
      const m = /"metrics":"(http:[^"]+)"/.exec(dns.log());
      const metrics = await (await fetch((m as RegExpExecArray)[1] as string)).text();
      expect(Number(/^gtm_state_read_errors_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
      // Writers refuse the damaged file, and say where the last good version is.
      await expect(store.put('x', 1)).rejects.toThrow(/unreadable.*last-good/);
      writeFileSync(statePath, '[]');
      await expect(
        store.put(KEYS.regionOverride('us-east'), { status: 'draining', reason: 'x', who: 'ci', at: 0 }),
      ).rejects.toThrow(/not a state document/);
      // Restore the last good version: readable again, the drain is still there.
      writeFileSync(statePath, readFileSync(`${statePath}.last-good`));
      await dns.waitLog(/shared state readable again/);
      expect((await store.get<{ status: string }>(KEYS.regionOverride('ap-southeast')))?.value.status).toBe('draining');
    } finally {
      clearInterval(heartbeat);
      await dns.stop();
      await store.close();
    }
  });
});
