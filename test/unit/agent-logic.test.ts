// The agent's decision logic with no sockets: rise/fall, cluster verdict, VIP states,
// path validation and reconciliation, GoBGP API shape conversion.
import { describe, expect, it } from 'vitest';
import { announceOf, newVipMachine, step, type VipMachine } from '../../src/agent/index.js';
import {
  fromApiPath,
  reconcile,
  toApiPath,
  validatePath,
  renderGobgpdToml,
  type AnnouncedPath,
} from '../../src/bgp/index.js';
import {
  clusterVerdict,
  feed,
  isChanging,
  newRiseFall,
  requiredHealthy,
  type RiseFall,
  type Verdict,
} from '../../src/health/index.js';

describe('rise/fall', () => {
  const run = (results: boolean[], rise = 2, fall = 3): RiseFall[] => {
    let rf = newRiseFall();
    return results.map((ok, i) => (rf = feed(rf, ok, rise, fall, 1000 * i).rf));
  };
  it('needs `rise` successes to go up and `fall` failures to go down', () => {
    expect(run([true]).at(-1)?.state).toBe('unknown');
    expect(run([true, true]).at(-1)?.state).toBe('up');
    expect(run([true, true, false, false]).at(-1)?.state).toBe('up');
    expect(run([true, true, false, false, false]).at(-1)?.state).toBe('down');
  });
  it('resets the streak on an opposite result (no flapping on one bad probe)', () => {
    expect(run([true, true, false, false, true, false, false]).at(-1)?.state).toBe('up');
    expect(run([false, false, false, true, false, true]).at(-1)?.state).toBe('down');
  });
  it('keeps when the current run of failures began (the first sign of a failure), and forgets it on a pass', () => {
    const states = run([true, true, false, false, false, false]);
    expect(states.map((s) => s.failingSince)).toEqual([undefined, undefined, 2000, 2000, 2000, 2000]);
    expect(run([false, true, false]).map((s) => s.failingSince)).toEqual([0, undefined, 2000]);
  });
  it('reports a node in transition so it is probed at the fast interval', () => {
    const states = run([true, true, false]);
    expect(isChanging(states[1] as RiseFall)).toBe(false);
    expect(isChanging(states[2] as RiseFall)).toBe(true);
    expect(isChanging(newRiseFall())).toBe(true);
  });
});

describe('cluster verdict', () => {
  it('is healthy while at least min_healthy nodes (count or share) are up', () => {
    expect(clusterVerdict({ nodes: ['up', 'down'], minHealthy: 1 }).verdict).toBe('healthy');
    expect(clusterVerdict({ nodes: ['down', 'down'], minHealthy: 1 }).verdict).toBe('unhealthy');
    expect(clusterVerdict({ nodes: ['up', 'down', 'down', 'down'], minHealthy: '50%' }).verdict).toBe('unhealthy');
    expect(clusterVerdict({ nodes: ['up', 'up', 'down', 'down'], minHealthy: '50%' }).verdict).toBe('healthy');
    expect(requiredHealthy('34%', 3)).toBe(2);
  });
  it('is unknown until enough nodes have a first verdict, not unhealthy', () => {
    expect(clusterVerdict({ nodes: ['unknown', 'unknown'], minHealthy: 1 }).verdict).toBe('unknown');
    expect(clusterVerdict({ nodes: ['down', 'unknown'], minHealthy: 1 }).verdict).toBe('unknown');
  });
  it('marks a healthy cluster degraded when the passive error rate is too high', () => {
    const v = clusterVerdict({ nodes: ['up', 'up'], minHealthy: 1, errorRate: 0.3, maxErrorRate: 0.05 });
    expect(v.verdict).toBe('degraded');
    expect(v.reason).toMatch(/error rate 30\.0%/);
  });
});

describe('VIP state machine', () => {
  const base = { verdictReason: 'r', maintenance: false, shuttingDown: false, holdDownMs: 1000, drainMs: 500 };
  const drive = (m: VipMachine, verdict: Verdict, now: number, extra: Partial<typeof base> = {}) =>
    step(m, { ...base, ...extra, verdict, now }).m;

  it('INIT announces nothing until a verdict; healthy goes UP at once', () => {
    let m = newVipMachine(0);
    m = drive(m, 'unknown', 10);
    expect([m.state, announceOf(m)]).toEqual(['INIT', 'none']);
    m = drive(m, 'healthy', 20);
    expect([m.state, announceOf(m)]).toEqual(['UP', 'normal']);
  });

  it('withdraws at once when unhealthy, and re-announces only after the hold-down', () => {
    let m = drive(newVipMachine(0), 'healthy', 0);
    m = drive(m, 'unhealthy', 100);
    expect([m.state, announceOf(m)]).toEqual(['DOWN', 'none']);
    m = drive(m, 'healthy', 500);
    expect(m.state).toBe('DOWN');
    expect(m.reason).toMatch(/held down for 600 ms more/);
    m = drive(m, 'healthy', 1100);
    expect(m.state).toBe('UP');
    expect(m.flaps).toBe(2);
  });

  it('drains for the drain period in maintenance, then withdraws; back when maintenance ends', () => {
    let m = drive(newVipMachine(0), 'healthy', 0);
    m = drive(m, 'healthy', 100, { maintenance: true });
    expect([m.state, announceOf(m), m.drainUntil]).toEqual(['DRAINING', 'drain', 600]);
    m = drive(m, 'healthy', 599, { maintenance: true });
    expect(m.state).toBe('DRAINING');
    m = drive(m, 'healthy', 600, { maintenance: true });
    expect([m.state, announceOf(m)]).toEqual(['DISABLED', 'none']);
    m = drive(m, 'healthy', 700);
    expect(m.state).toBe('UP');
  });

  it('a failing cluster during a drain is withdrawn at once (never held announced)', () => {
    let m = drive(newVipMachine(0), 'healthy', 0);
    m = drive(m, 'healthy', 10, { shuttingDown: true });
    expect(m.state).toBe('DRAINING');
    m = drive(m, 'unhealthy', 20, { shuttingDown: true });
    expect(m.state).toBe('DRAINING'); // still shutting down: the drain timer ends it
    m = drive(m, 'unhealthy', 20);
    expect(m.state).toBe('DOWN');
  });

  it('announces a degraded cluster as less preferred', () => {
    const m = drive(newVipMachine(0), 'degraded', 0);
    expect([m.state, announceOf(m)]).toEqual(['UP', 'drain']);
  });
});

const path = (over: Partial<AnnouncedPath> = {}): AnnouncedPath => ({
  prefix: '198.51.100.10/32',
  nextHop: '10.0.0.1',
  origin: 'igp',
  med: 100,
  communities: [],
  largeCommunities: [],
  prepend: 0,
  ...over,
});

describe('reconciler', () => {
  it('adds what is missing and removes what should not be there', () => {
    const six = path({ prefix: '2001:db8:10::10/128', nextHop: 'fd00::1' });
    const stray = path({ prefix: '198.51.100.99/32' });
    const plan = reconcile([path(), six], [six, stray]);
    expect(plan.add).toEqual([path()]);
    expect(plan.remove).toEqual([stray]);
  });
  it('does nothing when already converged (communities compared as a set)', () => {
    expect(reconcile([path({ communities: ['1:1', '65535:0'] })], [path({ communities: ['65535:0', '1:1'] })])).toEqual(
      { add: [], remove: [] },
    );
  });
  it('replaces a path with wrong attributes by AddPath alone (no withdraw gap)', () => {
    const plan = reconcile([path({ med: 500, communities: ['65535:0'] })], [path()]);
    expect(plan).toEqual({ add: [path({ med: 500, communities: ['65535:0'] })], remove: [] });
  });
  it('removes every duplicate of a prefix and adds one back', () => {
    const dup = [path(), path({ nextHop: '10.0.0.2' })];
    const plan = reconcile([path()], dup);
    expect(plan.remove).toHaveLength(2);
    expect(plan.add).toEqual([path()]);
  });
  it('withdraws everything when nothing is desired, one path at a time', () => {
    expect(reconcile([], [path(), path({ prefix: '2001:db8:10::10/128', nextHop: 'fd00::1' })]).remove).toHaveLength(2);
  });
});

describe('path validation and GoBGP shapes', () => {
  it('refuses anything but a host route, wrong-family next hops and bad communities', () => {
    expect(validatePath(path())).toEqual([]);
    expect(validatePath(path({ prefix: '198.51.100.0/0' }))[0]).toMatch(/host route/);
    expect(validatePath(path({ prefix: '2001:db8::1/128' }))[0]).toMatch(
      /next hop 10\.0\.0\.1: must be an IPv6 address/,
    );
    expect(validatePath(path({ prefix: '2001:db8::1/128', nextHop: '::' })).join()).toMatch(/explicit IPv6 next hop/);
    expect(validatePath(path({ communities: ['70000:1'] }))[0]).toMatch(/community 70000:1/);
    expect(() => toApiPath(path({ prefix: '0.0.0.0/0' }), 65001)).toThrow(/refusing to announce/);
  });
  it('round-trips IPv4 and IPv6 paths through the API shapes with keepCase field names', () => {
    const p4 = path({ communities: ['65535:0'], largeCommunities: ['65001:1:2'], prepend: 2 });
    const api4 = toApiPath(p4, 65001);
    expect(api4.nlri).toEqual({
      '@type': 'type.googleapis.com/apipb.IPAddressPrefix',
      prefix: '198.51.100.10',
      prefix_len: 32,
    });
    expect(fromApiPath(api4)).toEqual(p4);
    const p6 = path({ prefix: '2001:db8:10::10/128', nextHop: 'fd00::1', med: undefined });
    const api6 = toApiPath(p6, 65001);
    expect(api6.family).toEqual({ afi: 'AFI_IP6', safi: 'SAFI_UNICAST' });
    expect(api6.pattrs?.find((a) => a['@type'].endsWith('MpReachNLRIAttribute'))).toMatchObject({
      next_hops: ['fd00::1'],
    });
    expect(fromApiPath(api6)).toEqual(p6);
  });
  it('renders a gobgpd config with passive neighbors and both address families', () => {
    const toml = renderGobgpdToml({
      asn: 65001,
      routerId: '10.0.0.2',
      api: '127.0.0.1:50051',
      manageGobgpd: true,
      gobgpdBinary: 'gobgpd',
      protoDir: '',
      listenPort: 179,
      listenAddresses: ['10.0.0.2'],
      neighbors: [{ address: '10.0.0.1', asn: 65000, passive: true, holdTime: 9 }],
      communities: [],
      largeCommunities: [],
      origin: 'igp',
      holdDownMs: 0,
      drain: { durationMs: 0, communities: ['65535:0'], prepend: 0 },
      onAgentDeath: 'withdraw',
      agentLivenessMs: 2000,
    });
    expect(toml).toMatch(/neighbor-address = "10\.0\.0\.1"/);
    expect(toml).toMatch(/passive-mode = true/);
    expect(toml).toMatch(/afi-safi-name = "ipv6-unicast"/);
  });
});
