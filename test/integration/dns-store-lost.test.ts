// Two DNS servers on a real etcd, which is then frozen (SIGSTOP: a partition as the DNS node sees
// it, reads hang until their deadline). Each keeps its last view for max_stale_s, then applies its
// fallback: `configured` answers every region at its configured status again; `servfail` answers
// SERVFAIL for steered names (resolvers ask another server) and the rest as before. Once etcd
// answers again, both follow the stored state.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS } from '../../src/contract/index.js';
import { EtcdStateStore } from '../../src/state/etcd-store.js';
import { kdig, startDns, tempDir, testConfig, type RunningDns } from '../helpers/dns.js';
import { startEtcd, type RunningEtcd } from '../helpers/etcd.js';
import { popYaml } from '../helpers/shared-state.js';
import { waitForValue } from '../helpers/wait.js';

const PREFIX = '/gtm-store-lost/';
let etcd: RunningEtcd;
let frozen = false;
const servers: RunningDns[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  if (frozen) etcd.proc.kill('SIGCONT');
  await Promise.all(servers.map((s) => s.stop()));
  await etcd?.stop();
});

function config(then: string): string {
  const cfg = testConfig(tempDir());
  writeFileSync(
    cfg,
    `${readFileSync(cfg, 'utf8')}
control:
  store: { etcd: ["${etcd.endpoint}"], prefix: "${PREFIX}" }
  store_lost: { max_stale_s: 2, then: ${then} }
pops:
${popYaml('dub', 'eu-west', 2)}`,
  );
  return cfg;
}

/** A London client's answer for the steered name: its address, or the rcode when none. */
async function london(s: RunningDns): Promise<string> {
  const out = await kdig(s.port, ['+subnet=198.18.1.0/24', 'www.example.test', 'A']);
  const addr = /^www\.example\.test\.\s+\d+\s+IN\s+A\s+(\S+)$/m.exec(out)?.[1];
  return addr ?? /status: (\w+)/.exec(out)?.[1] ?? out;
}

/** The server's store-lost gauges. */
async function metrics(s: RunningDns): Promise<{ silent: number; lost: Record<string, number> }> {
  const url = (/"metrics":"(http:[^"]+)"/.exec(s.log()) as RegExpExecArray)[1] as string;
  const body = await (await fetch(url)).text();
  const lost = (f: string) =>
    Number(new RegExp(`^gtm_state_store_lost\\{fallback="${f}"\\} (\\S+)$`, 'm').exec(body)?.[1]);
  return {
    silent: Number(/^gtm_state_store_silent_seconds (\S+)$/m.exec(body)?.[1]),
    lost: { configured: lost('configured'), servfail: lost('servfail') },
  };
}

describe('a DNS node cut off from etcd (control.store_lost)', () => {
  it('keeps its last view for max_stale_s, then answers from the configured state or SERVFAIL, and follows the store once back', async () => {
    const store = new EtcdStateStore([etcd.endpoint], PREFIX);
    // eu-west's only PoP reports its VIP down: London is sent to us-east.
    await store.put(
      KEYS.agent('dub'),
      {
        pop: 'dub',
        region: 'eu-west',
        serving: false,
        sessionUp: true,
        vips: [{ prefix: '198.51.100.20/32', state: 'DOWN' }],
        at: Date.now(),
      },
      { leaseMs: 120_000 },
    );
    await store.close();
    const configured = await startDns(config('configured'), 1);
    servers.push(configured);
    const servfail = await startDns(config('servfail'), 1);
    servers.push(servfail);
    const both = async () => [await london(configured), await london(servfail)];
    await waitForValue('both servers to see eu-west down', both, (v) => v.join() === '198.51.100.10,198.51.100.10');

    etcd.proc.kill('SIGSTOP');
    frozen = true;
    const t0 = Date.now();
    // At once: still the last view.
    expect(await both()).toEqual(['198.51.100.10', '198.51.100.10']);
    const lost = await waitForValue('the fallbacks', both, (v) => v.join() === '198.51.100.20,SERVFAIL', 15_000, 100);
    const after = (Date.now() - t0) / 1000;
    console.log(
      `etcd frozen: fallbacks after ${after.toFixed(1)} s (max_stale_s 2, one read a second, 3 s read deadline)`,
    );
    expect(lost).toEqual(['198.51.100.20', 'SERVFAIL']);
    // Counted from the last answer, up to one read interval (1 s) before the freeze.
    expect(after).toBeGreaterThan(1);
    // Names that are not steered still answer on the servfail node.
    expect(await kdig(servfail.port, ['+short', 'example.test', 'SOA'])).toMatch(/^\S+ \S+ \d+ /);
    await configured.waitLog(/"event":"store\.lost".*"fallback":"configured"/);
    await servfail.waitLog(/"event":"store\.lost".*"fallback":"servfail"/);
    const during = await metrics(servfail);
    expect(during.lost).toEqual({ configured: 0, servfail: 1 });
    expect(during.silent).toBeGreaterThan(1);

    etcd.proc.kill('SIGCONT');
    frozen = false;
    await waitForValue(
      'both servers to follow etcd again',
      both,
      (v) => v.join() === '198.51.100.10,198.51.100.10',
      15_000,
      100,
    );
    await configured.waitLog(/"event":"store\.back"/);
    await servfail.waitLog(/"event":"store\.back"/);
    const later = await metrics(servfail);
    expect(later.lost).toEqual({ configured: 0, servfail: 0 });
    expect(later.silent).toBeLessThan(2);
  }, 60_000);
});
