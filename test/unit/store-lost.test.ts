// A DNS node cut off from the shared store (control.store_lost): the rule (how long the last view
// holds, then which fallback), the views each fallback hands out, and the answers: SERVFAIL for
// steered names only, with the memo never serving a steered answer meanwhile, and explain's line.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { Authority, explain } from '../../src/dns/index.js';
import { buildQuery, RCODE, TYPE } from '../../src/wire/index.js';
import { GeoResolver } from '../../src/geo/index.js';
import { InMemoryRegionState } from '../../src/state/index.js';
import { SILENCE_MS, applyStoreLost, carryOver, storeLostAt, withCarried } from '../../src/state/store-lost.js';
import type { RegionStatus, RegionView } from '../../src/contract/index.js';
import { decode, tempDir, testConfig } from '../helpers/dns.js';

const base = readFileSync(testConfig(tempDir()), 'utf8');
const dir = tempDir();
const withRule = (rule: string) =>
  parseConfigText(`${base}\ncontrol:\n  store: { file: ${dir}/state.json }\n  store_lost: ${rule}\n`);

describe('the store-lost rule', () => {
  it('keeps the last view up to max_stale_s, then applies the fallback; keep never does', () => {
    const rule = { maxStaleS: 30, then: 'servfail' as const };
    expect(storeLostAt(1_000, 1_000 + 30_000, rule)).toBeUndefined();
    expect(storeLostAt(1_000, 1_000 + 30_001, rule)).toEqual({ since: 1_000, fallback: 'servfail' });
    expect(storeLostAt(1_000, 1_000 + 3_600_000, { maxStaleS: 30, then: 'keep' })).toBeUndefined();
  });

  it('is read from the config with defaults (300 s, configured), and says what is wrong', () => {
    expect(withRule('{}').control?.storeLost).toEqual({ maxStaleS: 300, then: 'configured' });
    expect(withRule('{ max_stale_s: 20, then: servfail }').control?.storeLost).toEqual({
      maxStaleS: 20,
      then: 'servfail',
    });
    expect(() => withRule('{ then: panic }')).toThrow(
      /control\.store_lost\.then: must be configured, servfail or keep/,
    );
    expect(() => withRule('{ max_stale_s: 0 }')).toThrow(/control\.store_lost\.max_stale_s/);
    expect(() => withRule('{ stale: 3 }')).toThrow(/control\.store_lost/);
  });

  it('configured: every region at its configured status, whatever health said; servfail: the last views, marked', () => {
    const views = new Map<string, RegionView>([
      ['us-east', { status: 'down', since: 1, source: 'health', reason: 'agents down', held: false }],
      ['eu-west', { status: 'up', since: 1, source: 'health', held: true }],
      ['ap-southeast', { status: 'up', since: 1, source: 'override', reason: 'drain lifted' }],
    ]);
    const configured = new Map<string, RegionStatus>([
      ['us-east', 'up'],
      ['eu-west', 'up'],
      ['ap-southeast', 'draining'],
    ]);
    const lost = { since: 5_000, fallback: 'configured' as const };
    const out = applyStoreLost(views, configured, lost);
    expect([...out].map(([r, v]) => [r, v.status, v.source, v.held, v.storeLost])).toEqual([
      ['us-east', 'up', 'config', undefined, lost],
      ['eu-west', 'up', 'config', undefined, lost],
      ['ap-southeast', 'draining', 'config', undefined, lost],
    ]);
    expect(out.get('us-east')?.reason).toMatch(/shared store silent for \d+ s: every region at its configured status/);
    const marked = applyStoreLost(views, configured, { since: 5_000, fallback: 'servfail' });
    expect([...marked].map(([r, v]) => [r, v.status, v.source, v.storeLost?.fallback])).toEqual([
      ['us-east', 'down', 'health', 'servfail'],
      ['eu-west', 'up', 'health', 'servfail'],
      ['ap-southeast', 'up', 'override', 'servfail'],
    ]);
    expect(applyStoreLost(views, configured, undefined)).toBe(views);
  });
});

describe('reports the store drops across its own silence', () => {
  const lease = 1500;
  const all = new Map([
    ['p1', 'report 1'],
    ['p2', 'report 2'],
  ]);
  const onlyP2 = new Map([['p2', 'report 2']]);

  it('a report gone while the store was reachable is gone: the agent stopped renewing it', () => {
    const carried = carryOver(all, onlyP2, new Map(), { now: 10_000, leaseMs: lease, silentMs: 900 });
    expect(carried.size).toBe(0);
    expect([...withCarried(onlyP2, carried, 10_000).keys()]).toEqual(['p2']);
  });

  it('a report gone during a silence, or within a lease of its end, is kept for one lease', () => {
    // etcd revokes the leases that ran out while it was frozen the moment it thaws, before the
    // contact check has seen it answer (silence still counting) or just after (back).
    for (const o of [{ silentMs: SILENCE_MS + 1 }, { silentMs: 0, backAt: 10_000 - lease }]) {
      const carried = carryOver(all, onlyP2, new Map(), { now: 10_000, leaseMs: lease, ...o });
      expect([...carried.keys()]).toEqual(['p1']);
      expect(carried.get('p1')).toEqual({ report: 'report 1', until: 10_000 + lease });
      expect(withCarried(onlyP2, carried, 10_000 + lease - 1).get('p1')).toBe('report 1');
      // A real death shows one lease later.
      expect(withCarried(onlyP2, carried, 10_000 + lease).has('p1')).toBe(false);
    }
    // Back for longer than a lease: vanishing is evidence again.
    expect(carryOver(all, onlyP2, new Map(), { now: 10_000, leaseMs: lease, silentMs: 0, backAt: 8000 }).size).toBe(0);
  });

  it('the carry ends when the agent reports again, or when it runs out, and is never renewed by later changes', () => {
    const first = carryOver(all, onlyP2, new Map(), { now: 10_000, leaseMs: lease, silentMs: 5000 });
    // The agent renews: its new report is the store's, nothing is carried.
    expect(carryOver(onlyP2, all, first, { now: 10_200, leaseMs: lease, silentMs: 0, backAt: 10_000 }).size).toBe(0);
    // Another change while p1 is still carried keeps its first deadline, not a new one.
    const later = carryOver(onlyP2, new Map(), first, { now: 10_400, leaseMs: lease, silentMs: 0, backAt: 10_000 });
    expect(later.get('p1')?.until).toBe(10_000 + lease);
    expect(later.get('p2')?.until).toBe(10_400 + lease);
    // Past its deadline it is dropped.
    expect(carryOver(onlyP2, onlyP2, first, { now: 11_600, leaseMs: lease, silentMs: 0 }).size).toBe(0);
  });
});

describe('answers while the store is lost with then: servfail', () => {
  const config = withRule('{ max_stale_s: 10, then: servfail }');
  const ask = (authority: Authority, name: string, type: number) =>
    decode(
      authority.respond(
        buildQuery(name, type, { id: 9, ecs: { address: Uint8Array.from([198, 18, 3, 0]), sourcePrefix: 24 } }),
        '127.0.0.1',
        false,
      ).response as Buffer,
    );
  const markAll = (state: InMemoryRegionState, lost: RegionView['storeLost'] | null) =>
    state.setMany([...config.regions.keys()].map((r) => [r, { storeLost: lost }]));

  it('SERVFAIL for steered names only, never from the memo; answers again once the store is back', () => {
    const state = InMemoryRegionState.fromConfig(config);
    const authority = new Authority(config, GeoResolver.open(config.geo.database), state);
    expect(ask(authority, 'www.example.test', TYPE.A).answers[0]?.address).toBe('198.51.100.10');
    expect(ask(authority, 'www.example.test', TYPE.A).answers[0]?.address).toBe('198.51.100.10'); // memo
    markAll(state, { since: Date.now() - 12_000, fallback: 'servfail' });
    const failed = ask(authority, 'www.example.test', TYPE.A);
    expect([failed.header.rcode, failed.answers.length]).toEqual([RCODE.SERVFAIL, 0]);
    expect(ask(authority, 'www.example.test', TYPE.A).header.rcode).toBe(RCODE.SERVFAIL); // not remembered
    const soa = ask(authority, 'example.test', TYPE.SOA);
    expect([soa.header.rcode, soa.answers.length]).toEqual([RCODE.NOERROR, 1]);
    const lines = explain(config, GeoResolver.open(config.geo.database), state, {
      name: 'www.example.test',
      type: 'A',
      client: '198.18.3.1',
    });
    expect(lines.find((l) => l.startsWith('store: '))).toMatch(
      /^store: shared store silent for 1[23] s: steered names answer SERVFAIL \(resolvers ask another server\)$/,
    );
    markAll(state, null);
    const back = ask(authority, 'www.example.test', TYPE.A);
    expect([back.header.rcode, back.answers[0]?.address]).toEqual([RCODE.NOERROR, '198.51.100.10']);
  });
});
