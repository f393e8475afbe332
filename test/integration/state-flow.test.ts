// The shared state store and the path from a state change to the DNS answer, through the
// real `gtm dns` server.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStateStore } from '../../src/state/index.js';
import { KEYS, type AgentReport, type VipState } from '../../src/contract/index.js';
import { freePort, kdig, ROOT, startDns, tempDir, testConfig, watchChild, type RunningDns } from '../helpers/dns.js';
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

  /** Whether process `pid` has `file` open (its /proc fd links). */
  function opens(pid: number, file: string): boolean {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
        } catch {
          return false; // closed meanwhile
        }
      });
    } catch {
      return false;
    }
  }

  /**
   * A child writing in a loop, frozen (SIGSTOP) while it holds the lock with a write not yet
   * applied: tried until the lock file names it and it has its temporary file open (writing or
   * syncing it; it closes the file before the fence). Holding the lock alone is not enough:
   * frozen after its rename, the child has nothing stale left to write. Nor is the temporary file
   * existing: frozen in the microseconds between the fence and the rename, a writer still writes
   * back a stale document (the store's documented limit; a CI run once froze the child there).
   * The document is large, so the child spends much of its time writing it.
   */
  async function frozenHolder(path: string) {
    const child = spawn(
      process.execPath,
      [
        '-e',
        `import('${join(ROOT, 'dist', 'src', 'state', 'index.js')}').then(async ({ FileStateStore }) => {
          const s = new FileStateStore('${path}');
          for (let i = 0; ; i++) await s.put('k/child', { i }).catch((e) => console.error('write failed:', e.message));
        })`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const watched = watchChild(child);
    await waitFor(() => existsSync(`${path}.lock`), 'the child to write');
    for (let attempt = 0; attempt < 300; attempt++) {
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      child.kill('SIGSTOP');
      let holder = '';
      try {
        holder = readFileSync(`${path}.lock`, 'utf8');
      } catch {
        /* between two writes */
      }
      const writing = opens(child.pid as number, join(dirname(path), `.${basename(path)}.${child.pid}.tmp`));
      if (holder.startsWith(`${child.pid} `) && writing) return { child, ...watched };
      child.kill('SIGCONT');
    }
    child.kill('SIGKILL');
    throw new Error('never caught the child holding the lock');
  }

  it('a writer frozen past its lock cannot write back a stale document when it thaws (item 4)', async () => {
    const path = join(tempDir(), 'state.json');
    const s = new FileStateStore(path);
    await s.put('bulk/x', { blob: 'x'.repeat(3_000_000) });
    for (let run = 0; run < 2; run++) {
      const frozen = await frozenHolder(path);
      try {
        // Past the stale-lock time the frozen writer's lock is broken and our write lands.
        await new Promise((r) => setTimeout(r, 5500));
        const drain = { status: 'draining', reason: `run ${run}`, who: 'ci', at: run };
        await s.put(KEYS.regionOverride('us-east'), drain);
        frozen.child.kill('SIGCONT');
        // The thawed writer's stale write fails; its next one starts from the file as it is now.
        await waitFor(() => /write failed:.*lock was lost/.test(frozen.log()), 'the stale write to fail', 10_000);
        const after = (await s.get<{ i: number }>('k/child'))?.value.i;
        await waitFor(async () => (await s.get<{ i: number }>('k/child'))?.value.i !== after, 'the child to write on');
        expect((await s.get(KEYS.regionOverride('us-east')))?.value).toEqual(drain);
      } finally {
        frozen.child.kill('SIGCONT');
        await frozen.stop();
      }
    }
    await s.close();
  });

  it("a dead holder's lock is broken at once, not after the stale-lock time (item 11)", async () => {
    const path = join(tempDir(), 'state.json');
    const s = new FileStateStore(path);
    await s.put('bulk/x', { blob: 'x'.repeat(3_000_000) });
    const frozen = await frozenHolder(path);
    frozen.child.kill('SIGKILL');
    await frozen.stop();
    expect(existsSync(`${path}.lock`)).toBe(true);
    const t0 = Date.now();
    await s.put(KEYS.regionOverride('us-east'), { status: 'draining', reason: 'x', who: 'ci', at: 1 });
    // Well under the 5 s a live holder's lock is given.
    expect(Date.now() - t0).toBeLessThan(3000);
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

  it('measures the time from the first sign of a failure to DNS moving (gtm_failover_seconds)', async () => {
    const url = `http://${(/"metrics":"http:\/\/([^"]+)\/metrics"/.exec(dns.log()) as RegExpExecArray)[1]}/metrics`;
    const failovers = async () => {
      const body = await (await fetch(url)).text();
      const of = (s: string) =>
        Number(new RegExp(`^gtm_failover_seconds_${s}\\{region="eu-west"\\} (\\S+)$`, 'm').exec(body)?.[1] ?? 0);
      return { count: of('count'), sum: of('sum') };
    };
    await store.put(KEYS.agent('dub'), report('dub', 'eu-west'), { leaseMs: 60_000 });
    await waitFor(async () => (await ask()) === '198.51.100.20', 'eu-west back in DNS', 3000);
    const before = await failovers();
    // The agent saw its first failed probe 2.5 s before the report that says DOWN.
    const down = { ...report('dub', 'eu-west', 'DOWN'), troubleSince: Date.now() - 2500 };
    await store.put(KEYS.agent('dub'), down, { leaseMs: 60_000 });
    await waitFor(async () => (await ask()) === '198.51.100.10', 'DNS to follow the failure', 3000);
    const after = await failovers();
    expect(after.count - before.count).toBe(1);
    expect(after.sum - before.sum).toBeGreaterThanOrEqual(2.5);
    expect(after.sum - before.sum).toBeLessThan(4);
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

describe('malformed entries in the shared state (hardening round 3, item 1)', () => {
  it('cost only themselves: DNS and the control plane keep running on the last valid values', async () => {
    const dir = tempDir();
    const statePath = join(dir, 'state.json');
    const cfg = testConfig(dir);
    const apiPort = await freePort();
    writeFileSync(
      cfg,
      `${readFileSync(cfg, 'utf8')}
${sharedStateYaml(statePath).replace('control:\n', `control:\n  api: { listen: 127.0.0.1:${apiPort} }\n`)}`,
    );
    const store = new FileStateStore(statePath);
    await store.put(KEYS.agent('dub'), report('dub', 'eu-west'), { leaseMs: 600_000 });
    // A valid drain of ap-southeast: the last valid value the readers must keep.
    await store.put(KEYS.regionOverride('ap-southeast'), { status: 'draining', reason: 'kept', who: 'ci', at: 1 });
    const dns = await startDns(cfg, 2);
    const controlProc = spawn(process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'control', '--config', cfg], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const control = watchChild(controlProc);
    try {
      await waitFor(() => control.log().includes('control API listening'), 'gtm control to listen', 10_000);
      const ask = async (subnet: string) =>
        (await kdig(dns.port, ['+short', `+subnet=${subnet}`, 'www.example.test', 'A'])).trim();
      const regions = async () => {
        const r = await fetch(`http://127.0.0.1:${apiPort}/api/v1/regions`);
        return { code: r.status, body: (await r.json()) as { name: string; status: string; weight: number | null }[] };
      };
      await waitFor(async () => (await ask('198.18.4.0/24')) !== '198.51.100.30', 'the drain to apply', 5000, 100);
      const before = await ask('198.18.4.0/24');
      // The reproduction from the issue, in the file as another writer (or an editor) leaves it:
      // a null value, a status that is no status, a weight that is no number, a vantage report
      // with no targets, and a heartbeat under a key that is not its PoP's.
      const doc = JSON.parse(readFileSync(statePath, 'utf8')) as { rev: number; entries: Record<string, unknown> };
      const rev = doc.rev + 1;
      doc.rev = rev;
      Object.assign(doc.entries, {
        'overrides/regions/us-east': { value: null, rev },
        'overrides/regions/ap-southeast': { value: { status: 'banana', reason: 'x', who: 'y', at: 2 }, rev },
        'overrides/region-weights/eu-west': { value: { weight: 'heavy', reason: 'x', who: 'y', at: 2 }, rev },
        'overrides/weights/www/eu-west': { value: null, rev },
        'vantage/zz-1': { value: { point: 'zz-1', at: Date.now() }, rev },
        'agents/zz-2': { value: report('dub', 'eu-west', 'DOWN'), rev },
      });
      writeFileSync(statePath, JSON.stringify(doc));
      await dns.waitLog(/"key":"overrides\/regions\/us-east".*breaks the contract/);
      await dns.waitLog(/"key":"agents\/zz-2","problem":"pop: \\"dub\\" is not the PoP this key belongs to"/);
      await waitFor(() => /"key":"overrides\/region-weights\/eu-west"/.test(control.log()), 'control to log it');
      // Both still serve: DNS answers as before (ap-southeast still drained, its last valid
      // value), the API lists the regions without a 500, and nobody exited.
      expect(await ask('198.18.4.0/24')).toBe(before);
      expect(await ask('198.18.1.0/24')).toBe('198.51.100.20'); // dub's forged DOWN did not count
      const r = await regions();
      expect(r.code).toBe(200);
      expect(r.body.find((x) => x.name === 'ap-southeast')?.status).toBe('draining');
      expect(r.body.find((x) => x.name === 'eu-west')?.weight).toBeNull();
      expect(dns.proc.exitCode).toBeNull();
      expect(controlProc.exitCode).toBeNull();
      // Logged once per key, and counted.
      await new Promise((res) => setTimeout(res, 600));
      expect(dns.log().match(/"key":"overrides\/regions\/us-east"/g)).toHaveLength(1);
      const m = /"metrics":"(http:[^"]+)"/.exec(dns.log());
      const metrics = await (await fetch((m as RegExpExecArray)[1] as string)).text();
      expect(Number(/^gtm_state_invalid_entries_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(6);
      // A valid value under the same key is read again at once.
      await store.put(KEYS.regionOverride('ap-southeast'), { status: 'up', reason: 'fixed', who: 'ci', at: 3 });
      await waitFor(async () => (await ask('198.18.4.0/24')) === '198.51.100.30', 'the valid value to apply', 5000);
    } finally {
      await control.stop();
      await dns.stop();
      await store.close();
    }
  });
});
