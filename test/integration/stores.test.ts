// One contract for both state stores (embedded file, real etcd), then several DNS servers
// following the same etcd.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStateStore, StoreTimeoutError, type StateStore } from '../../src/state/index.js';
import { KEYS } from '../../src/contract/index.js';
import { EtcdStateStore } from '../../src/state/etcd-store.js';
import { parseConfigText } from '../../src/config/index.js';
import { AuditLog, Changes } from '../../src/control/index.js';
import { createLogger } from '../../src/observability/index.js';
import { InMemoryRegionState } from '../../src/state/index.js';
import { EXAMPLE, kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { startEtcd, type RunningEtcd } from '../helpers/etcd.js';
import { rng } from '../helpers/rng.js';
import { waitFor } from '../helpers/wait.js';

let etcd: RunningEtcd;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
});

const stores: [string, () => StateStore][] = [
  ['file', () => new FileStateStore(join(tempDir(), 'state.json'))],
  ['etcd', () => new EtcdStateStore([etcd.endpoint], `/test-${Math.random().toString(36).slice(2)}/`)],
];

describe.each(stores)('%s store contract', (_name, make) => {
  it('puts, gets, lists by prefix in key order, deletes', async () => {
    const s = make();
    await s.put('a/2', { n: 2 });
    await s.put('a/1', { n: 1 });
    await s.put('b/1', { n: 3 });
    expect((await s.get<{ n: number }>('a/1'))?.value).toEqual({ n: 1 });
    expect((await s.list('a/')).map((e) => e.key)).toEqual(['a/1', 'a/2']);
    const r1 = (await s.get('a/1'))?.rev as number;
    await s.put('a/1', { n: 10 });
    expect((await s.get('a/1'))?.rev).toBeGreaterThan(r1);
    await s.delete('a/1');
    expect(await s.get('a/1')).toBeUndefined();
    await s.close();
  });

  it('drops a leased key when its lease is not renewed, keeps it while it is', async () => {
    const s = make();
    await s.put('agents/x', { beat: 1 }, { leaseMs: 1000 });
    // Renewed at a third of the lease, so a busy machine cannot make the key lapse between beats.
    for (let i = 2; i <= 5; i++) {
      await new Promise((r) => setTimeout(r, 300));
      await s.put('agents/x', { beat: i }, { leaseMs: 1000 });
    }
    expect((await s.get<{ beat: number }>('agents/x'))?.value.beat).toBe(5);
    const renewedAt = Date.now();
    await waitFor(async () => (await s.get('agents/x')) === undefined, 'the unrenewed lease to expire', 8000, 100);
    // Not before the lease ran out (etcd rounds leases up to whole seconds).
    expect(Date.now() - renewedAt).toBeGreaterThanOrEqual(900);
    await s.close();
  });

  it('tells watchers about changes under their prefix, with the full list', async () => {
    const s = make();
    const seen: string[][] = [];
    const stop = s.watch('w/', (entries) => seen.push(entries.map((e) => e.key)));
    await waitFor(() => seen.length > 0, 'the watch to deliver its first (empty) list');
    await s.put('w/a', 1);
    await s.put('other', 1);
    await s.put('w/b', 2);
    await s.delete('w/a');
    const deadline = Date.now() + 3000;
    while (JSON.stringify(seen.at(-1)) !== JSON.stringify(['w/b']) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(seen.at(-1)).toEqual(['w/b']);
    expect(seen.some((l) => l.includes('other'))).toBe(false);
    stop();
    await s.close();
  });
});

describe.each(stores)('%s store: atomic check-and-write', (_name, make) => {
  it('putIf writes only while its conditions hold; of concurrent writers on the same condition one wins', async () => {
    const s = make();
    expect(await s.putIf([{ key: 'g/x' }], 'g/x', 1)).toBe(true); // absent: holds
    expect(await s.putIf([{ key: 'g/x' }], 'g/x', 2)).toBe(false); // now present
    const rev = (await s.get('g/x'))?.rev as number;
    expect(await s.putIf([{ key: 'g/x', rev }], 'g/y', 3)).toBe(true);
    expect(await s.putIf([{ key: 'g/x', rev: rev + 1000 }], 'g/y', 4)).toBe(false);
    expect((await s.get('g/y'))?.value).toBe(3);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => s.putIf([{ key: 'g/race' }], 'g/race', i)));
    expect(results.filter(Boolean)).toHaveLength(1);
    await s.close();
  });

  it('two control processes draining at once cannot both pass the guard rail (6 rounds)', async () => {
    const dir = tempDir();
    const config = parseConfigText(
      `${readFileSync(EXAMPLE, 'utf8')}\ncontrol:\n  store: { file: ${join(dir, 'state.json')} }\n  max_regions_out: 0.5\n`,
    );
    for (let round = 0; round < 6; round++) {
      const s = make();
      // Each "process" has its own view, in which every region is up.
      const changes = [0, 1].map(
        (i) =>
          new Changes(
            config,
            s,
            new AuditLog(join(dir, `audit-${i}.jsonl`)),
            InMemoryRegionState.fromConfig(config),
            createLogger('t', 'silent'),
          ),
      );
      const [a, b] = await Promise.all([
        changes[0]?.set('us-east', { status: 'draining', reason: 'race a' }, 'a', 'drain'),
        changes[1]?.set('eu-west', { status: 'draining', reason: 'race b' }, 'b', 'drain'),
      ]);
      // 3 regions, at most 50% out: one drain passes, the other is refused.
      expect([a?.ok, b?.ok].filter(Boolean)).toHaveLength(1);
      expect((await s.list(KEYS.regionOverrides)).length).toBe(1);
      for (const r of ['us-east', 'eu-west']) await s.delete(KEYS.regionOverride(r));
      await s.close();
    }
  });
});

describe('audit outcomes of writes the store did not answer in time (item 5)', () => {
  /** A file store that applies a conditional write and then times out (a store that stalled after taking it), and whose reads fail for a while. */
  class StallingStore extends FileStateStore {
    readsToFail = 0;
    applyThenTimeOut = true;
    override async putIf(...args: Parameters<FileStateStore['putIf']>): Promise<boolean> {
      const ok = await super.putIf(...args);
      if (this.applyThenTimeOut) throw new StoreTimeoutError('a conditional write');
      return ok;
    }
    override async get<T>(key: string) {
      if (this.readsToFail-- > 0) throw new StoreTimeoutError('a read');
      return super.get<T>(key);
    }
  }

  it('audits unknown, then applied-late once the key can be read back; not-applied when it never landed', async () => {
    const dir = tempDir();
    const config = parseConfigText(`${readFileSync(EXAMPLE, 'utf8')}
control:
  store: { file: ${join(dir, 'state.json')} }
`);
    const store = new StallingStore(join(dir, 'state.json'));
    const audit = new AuditLog(join(dir, 'audit.jsonl'));
    const changes = new Changes(
      config,
      store,
      audit,
      InMemoryRegionState.fromConfig(config),
      createLogger('t', 'silent'),
    );
    try {
      // Applied, but the store timed out: the caller hears a timeout; the audit learns the rest.
      store.readsToFail = 1; // the first read-back fails too: it is tried again
      await expect(changes.set('us-east', { status: 'draining', reason: 'stalled' }, 'ops', 'drain')).rejects.toThrow(
        StoreTimeoutError,
      );
      await waitFor(() => audit.tail(10).some((a) => a.outcome === 'applied-late'), 'the read-back', 10_000, 100);
      expect(
        audit
          .tail(10)
          .reverse()
          .map((a) => a.outcome),
      ).toEqual(['pending', 'unknown', 'applied-late']);
      // A write that never landed (refused before it was sent, past its deadline): said at once.
      store.applyThenTimeOut = false;
      await expect(
        changes.set('eu-west', { weight: 3, reason: 'late' }, 'ops', 'override', { deadline: Date.now() - 1 }),
      ).rejects.toThrow(StoreTimeoutError);
      expect(audit.tail(1)[0]).toMatchObject({ target: 'eu-west', outcome: 'not-applied' });
      expect(await store.get(KEYS.regionWeight('eu-west'))).toBeUndefined();
      // A refused change is audited as refused, nothing written.
      expect(await changes.set('eu-west', { status: 'down', reason: 'too many' }, 'ops', 'drain')).toMatchObject({
        code: 409,
      });
      expect(audit.tail(1)[0]).toMatchObject({ target: 'eu-west', outcome: 'refused' });
      expect(await store.get(KEYS.regionOverride('eu-west'))).toBeUndefined();
    } finally {
      changes.close();
      await store.close();
    }
  });
});

describe('store deadlines and idempotency through the control API', () => {
  const TOKEN = 'store-test-token-0123456789';
  process.env.GTM_STORE_TEST_TOKEN = TOKEN;
  const controlOn = async (store: string) => {
    const dir = tempDir();
    const config = parseConfigText(
      `${readFileSync(EXAMPLE, 'utf8')}\ncontrol:\n  store: ${store}\n  api: { listen: 127.0.0.1:0, tokens: [{ name: ops, env: GTM_STORE_TEST_TOKEN }], audit_log: ${join(dir, 'audit.jsonl')} }\n`,
    );
    const { openStore } = await import('../../src/state/index.js');
    const { startControl } = await import('../../src/control/index.js');
    const s = await openStore((config.control as NonNullable<typeof config.control>).store);
    const c = await startControl(config, s, createLogger('t', 'silent'));
    const drain = async (key: string, reason = 'deadline test') => {
      const t0 = Date.now();
      const res = await fetch(`http://127.0.0.1:${c.port}/api/v1/regions/us-east/drain`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ reason }),
        signal: AbortSignal.timeout(15_000),
      });
      const body = (await res.json()) as { error?: string; outcome?: string };
      return { status: res.status, ms: Date.now() - t0, replayed: res.headers.get('idempotent-replayed'), body };
    };
    const audit = () =>
      (existsSync(join(dir, 'audit.jsonl')) ? readFileSync(join(dir, 'audit.jsonl'), 'utf8') : '')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { action: string; why: string; outcome?: string });
    return { s, c, drain, audit, close: async () => (await c.close(), await s.close()) };
  };

  it('etcd frozen: the write answers 503 within seconds, is not applied when etcd returns, and a retry applies once', async () => {
    const { s, drain, close } = await controlOn(`{ etcd: ["${etcd.endpoint}"], prefix: /deadline-${Date.now()}/ }`);
    try {
      etcd.proc.kill('SIGSTOP');
      let r;
      try {
        r = await drain('retry-key-0001');
      } finally {
        etcd.proc.kill('SIGCONT');
      }
      expect(r.status).toBe(503);
      expect(r.ms).toBeLessThan(6500);
      // The client's circuit breaker lets calls through again a few seconds after etcd returns;
      // by then a late apply would have happened, if there were one.
      await waitFor(
        () =>
          s.get('probe').then(
            () => true,
            () => false,
          ),
        'etcd to answer again',
        15_000,
        200,
      );
      expect(await s.get(KEYS.regionOverride('us-east'))).toBeUndefined();
      expect(await drain('retry-key-0001')).toMatchObject({ status: 200, replayed: 'false' });
      expect(await drain('retry-key-0001')).toMatchObject({ status: 200, replayed: 'true' });
      expect((await s.list(KEYS.regionOverrides)).length).toBe(1);
    } finally {
      await close();
    }
  }, 40_000);

  it('etcd frozen mid-write: a 503 says the outcome is unknown, the audit learns it, a retry applies at most once (item 5)', async () => {
    const { s, drain, audit, close } = await controlOn(
      `{ etcd: ["${etcd.endpoint}"], prefix: /midwrite-${Date.now()}/ }`,
    );
    const etcdBack = () =>
      waitFor(
        () =>
          s.get('probe').then(
            () => true,
            () => false,
          ),
        'etcd to answer again',
        20_000,
        200,
      );
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const reason = `mid-write ${attempt}`;
        const key = `mid-write-key-${attempt}-${Date.now()}`;
        // Frozen 3 to 13 ms after the request is sent (the whole write takes about 10 ms here):
        // before the store is read, between the read and the transaction, or as etcd takes it.
        const pending = drain(key, reason);
        await new Promise((r) => setTimeout(r, 3 + attempt * 5));
        etcd.proc.kill('SIGSTOP');
        const thaw = setTimeout(() => etcd.proc.kill('SIGCONT'), 4500);
        const r = await pending.finally(() => undefined);
        await new Promise((res) => setTimeout(res, Math.max(0, 4600 - r.ms)));
        clearTimeout(thaw);
        etcd.proc.kill('SIGCONT');
        await etcdBack();
        const stored = await s.get<{ reason: string }>(KEYS.regionOverride('us-east'));
        const landed = stored?.value.reason === reason;
        if (r.status === 200) expect(landed).toBe(true);
        else {
          // Never "not applied" when it may have been: unknown, with how to find out.
          expect(r.status).toBe(503);
          expect(['unknown', 'not-applied']).toContain(r.body.outcome);
          if (r.body.outcome === 'unknown') expect(r.body.error).toMatch(/outcome unknown.*Idempotency-Key/);
          else expect(landed).toBe(false);
          // The audit's last word on the change is what happened, once the store answers again.
          const final = () =>
            audit()
              .filter((a) => a.why.startsWith(reason) && !['pending', 'unknown'].includes(a.outcome ?? ''))
              .map((a) => a.outcome);
          await waitFor(() => final().length > 0, 'the audit to learn the outcome', 20_000, 200);
          expect(final()).toHaveLength(1);
          expect(landed ? ['applied', 'applied-late'] : ['not-applied']).toContain(final()[0]);
        }
        // A retry with the same key: the applied write's result, or the write applied now, once.
        const again = await drain(key, reason);
        expect(again.status).toBe(200);
        expect(again.replayed).toBe(landed ? 'true' : 'false');
        expect((await s.get<{ reason: string }>(KEYS.regionOverride('us-east')))?.value.reason).toBe(reason);
        await s.delete(KEYS.regionOverride('us-east'));
      }
    } finally {
      etcd.proc.kill('SIGCONT');
      await close();
    }
  }, 120_000);

  it('state file held locked: 503 at the 3 s deadline, nothing written when the lock goes', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.json');
    const { s, drain, close } = await controlOn(`{ file: ${path} }`);
    try {
      writeFileSync(`${path}.lock`, ''); // another writer, stuck
      const r = await drain('retry-key-0002');
      expect(r.status).toBe(503);
      expect(r.ms).toBeLessThan(4500);
      rmSync(`${path}.lock`);
      await new Promise((res) => setTimeout(res, 300));
      expect(await s.get(KEYS.regionOverride('us-east'))).toBeUndefined();
      expect((await drain('retry-key-0002')).status).toBe(200);
    } finally {
      await close();
    }
  }, 30_000);
});

describe('etcd watch at fleet size', () => {
  it('follows a burst of 2,000 puts and deletes from 4 writers without re-reading the prefix per event', async () => {
    const prefix = `/watch-${Math.random().toString(36).slice(2)}/`;
    const writers = Array.from({ length: 4 }, () => new EtcdStateStore([etcd.endpoint], prefix));
    const watcher = new EtcdStateStore([etcd.endpoint], prefix);
    await Promise.all(
      Array.from({ length: 500 }, (_, i) => (writers[i % 4] as EtcdStateStore).put(`agents/p${i}`, { n: 0 })),
    );
    // Count whole-prefix reads: the watch may read at start and on reconnect, never per event.
    const client = (watcher as unknown as { client: { getAll(): unknown } }).client;
    const getAll = client.getAll.bind(client);
    let fullReads = 0;
    client.getAll = () => (fullReads++, getAll());
    let last: { key: string; value: { n: number } }[] = [];
    let calls = 0;
    const stop = watcher.watch<{ n: number }>('agents/', (entries) => ((last = entries), calls++));
    await waitFor(() => last.length === 500, 'the watch to read the 500 keys');
    const rand = rng(42);
    await Promise.all(
      Array.from({ length: 2000 }, (_, k) => {
        const w = writers[k % 4] as EtcdStateStore;
        const key = `agents/p${Math.floor(rand() * 600)}`;
        return rand() < 0.2 ? w.delete(key) : w.put(key, { n: k });
      }),
    );
    const truth = await writers[0]!.list<{ n: number }>('agents/');
    await waitFor(
      () => JSON.stringify(last.map((e) => [e.key, e.value])) === JSON.stringify(truth.map((e) => [e.key, e.value])),
      'the watch to converge on the stored keys',
      5000,
    );
    expect(fullReads).toBeLessThanOrEqual(2);
    // Events arriving together are handed on together, not one call each.
    expect(calls).toBeLessThan(500);
    stop();
    await Promise.all([watcher.close(), ...writers.map((w) => w.close())]);
  }, 30_000);
});

describe('DNS servers sharing etcd', () => {
  const servers: RunningDns[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('two DNS servers follow an agent report written to etcd within 1 s', async () => {
    const prefix = '/gtm-dns-test/';
    for (let i = 0; i < 2; i++) {
      const dir = tempDir();
      const cfg = testConfig(dir);
      writeFileSync(
        cfg,
        `${readFileSync(cfg, 'utf8')}
control:
  store: { etcd: ["${etcd.endpoint}"], prefix: "${prefix}" }
pops:
  dub:
    region: eu-west
    bgp: { asn: 65002, router_id: 10.0.2.2, neighbors: [{ address: 10.0.2.1, asn: 65000 }], next_hop: 10.0.2.2 }
    vips: [{ address: vip, nodes: [{ name: lb1, address: 10.0.2.11 }], checks: [{ type: tcp, port: 80 }] }]
`,
      );
      servers.push(await startDns(cfg, 1));
    }
    const store = new EtcdStateStore([etcd.endpoint], prefix);
    const report = (state: string) => ({
      pop: 'dub',
      region: 'eu-west',
      serving: true,
      sessionUp: true,
      vips: [{ prefix: '198.51.100.20/32', state }],
      at: Date.now(),
    });
    const ask = async (s: RunningDns) =>
      (await kdig(s.port, ['+short', '+subnet=198.18.1.0/24', 'www.example.test', 'A'])).trim();
    await store.put(KEYS.agent('dub'), report('UP'), { leaseMs: 30_000 });
    for (const s of servers) {
      const t0 = Date.now();
      while ((await ask(s)) !== '198.51.100.20')
        if (Date.now() - t0 > 5000) throw new Error('server never saw the UP report');
    }
    const t0 = Date.now();
    await store.put(KEYS.agent('dub'), report('DRAINING'), { leaseMs: 30_000 });
    for (const s of servers) {
      while ((await ask(s)) !== '198.51.100.10')
        if (Date.now() - t0 > 3000) throw new Error('server did not follow the drain');
    }
    expect(Date.now() - t0).toBeLessThan(1000);
    await store.close();
  });
});
