// The agent runtime against a fake speaker and an in-memory gobgpd: no sockets, no processes.
// Probe results go in through `handle`, the one place state changes; the paths the announcer
// leaves in the fake RIB are what a real gobgpd would announce.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Agent } from '../../src/agent/index.js';
import { FakeSpeaker } from '../helpers/fake-speaker.js';
import { parseConfigText } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/index.js';
import { EXAMPLE } from '../helpers/dns.js';

const config = parseConfigText(
  `${readFileSync(EXAMPLE, 'utf8')}
pops:
  nyc:
    region: us-east
    bgp: { asn: 65001, router_id: 10.0.1.2, neighbors: [{ address: 10.0.1.1, asn: 65000 }], next_hop: 10.0.1.2, med: 100, hold_down_ms: 1000, drain: { duration_ms: 3000, communities: ["65535:0"], med: 1000 } }
    vips: [{ address: vip, nodes: [{ name: lb1, address: 10.0.1.11 }, { name: lb2, address: 10.0.1.12 }], checks: [{ type: tcp, port: 80 }], rise: 2, fall: 2, min_healthy: 1 }]
`,
);
const pop = config.pops[0] as (typeof config.pops)[number];

let speaker: FakeSpeaker;
let agent: Agent;
const probe = (node: number, ok: boolean) =>
  agent.handle({ kind: 'probe', result: { vip: 0, node, ok, detail: ok ? 'ok' : 'refused', ms: 1 } });
const both = (ok: boolean, times: number) => {
  for (let i = 0; i < times; i++) (probe(0, ok), probe(1, ok));
};

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
  speaker = new FakeSpeaker();
  agent = new Agent(config, pop, {
    stateDir: '/nonexistent',
    wrapper: '',
    log: createLogger('t', 'silent'),
    speaker,
    probe: false,
  });
});
afterEach(async () => {
  await agent.close();
  vi.useRealTimers();
});

describe('agent runtime with a fake speaker', () => {
  it('announces once the cluster rises, withdraws at once when it falls, re-announces only after the hold-down', async () => {
    both(true, 1);
    await agent.requestReconcile();
    expect(speaker.client.paths).toEqual([]); // rise 2: not yet
    both(true, 1);
    await agent.requestReconcile();
    expect(speaker.client.paths.map((p) => [p.prefix, p.med])).toEqual([['198.51.100.10/32', 100]]);
    expect(agent.report()).toMatchObject({ serving: true, vips: [{ state: 'UP' }] });

    both(false, 2);
    await agent.requestReconcile();
    expect(speaker.client.paths).toEqual([]);
    expect(agent.report()).toMatchObject({ serving: false, vips: [{ state: 'DOWN' }] });

    // Healthy again at once: held down, then the machine's own wake-up re-announces.
    both(true, 2);
    await agent.requestReconcile();
    expect(agent.status().vips[0]?.state).toBe('DOWN');
    expect(speaker.client.paths).toEqual([]);
    await vi.advanceTimersByTimeAsync(1100);
    await agent.requestReconcile();
    expect(agent.status().vips[0]?.state).toBe('UP');
    expect(speaker.client.paths).toHaveLength(1);
    expect(agent.status().vips[0]?.flaps).toBe(2);
  });

  it('maintenance drains (GRACEFUL_SHUTDOWN, drain MED) for the drain period, then withdraws', async () => {
    both(true, 2);
    await agent.requestReconcile();
    agent.handle({ kind: 'maintenance-api', enabled: true, reason: 'test', who: 'tester' });
    await agent.requestReconcile();
    expect(speaker.client.paths[0]).toMatchObject({ med: 1000, communities: ['65535:0'] });
    expect(agent.report().vips[0]?.state).toBe('DRAINING');
    await vi.advanceTimersByTimeAsync(3100);
    await agent.requestReconcile();
    expect(agent.report().vips[0]?.state).toBe('DISABLED');
    expect(speaker.client.paths).toEqual([]);
  });

  it('does not claim to serve without a trusted session or a reachable gobgpd', async () => {
    both(true, 2);
    await agent.requestReconcile();
    expect(agent.report().serving).toBe(true);
    speaker.sessionUp = false;
    expect(agent.report()).toMatchObject({ serving: false, sessionUp: false });
    speaker.sessionUp = true;
    speaker.apiUp = false;
    expect(agent.report().serving).toBe(false);
  });
});

describe('the gobgpd speaker when its state directory cannot be written', () => {
  it('reports, keeps nothing announced and retries instead of crashing', async () => {
    const { GobgpSpeaker } = await import('../../src/agent/speaker.js');
    const { AgentMetrics } = await import('../../src/agent/metrics.js');
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tempDir } = await import('../helpers/dns.js');
    const notADir = join(tempDir(), 'state');
    writeFileSync(notADir, 'a file where the state directory should be');
    const lines: { msg: string; retryMs?: number }[] = [];
    const log = createLogger('t', 'silent');
    log.error = ((o: { retryMs?: number }, msg: string) => void lines.push({ ...o, msg })) as typeof log.error;
    const unmanaged = { ...pop, bgp: { ...pop.bgp, manageGobgpd: true, api: '127.0.0.1:1' } };
    const s = new GobgpSpeaker(unmanaged, notADir, '/nonexistent-wrapper', log, new AgentMetrics());
    const seen: string[] = [];
    s.start({
      onLiveness: () => seen.push('liveness'),
      onConnected: () => seen.push('connected'),
      onGobgpdExit: () => seen.push('exit'),
    });
    await vi.advanceTimersByTimeAsync(3500);
    await s.stop();
    const refusals = lines.filter((l) => l.msg === 'cannot start gobgpd; retrying');
    expect(refusals.length).toBeGreaterThanOrEqual(2); // retried, with backoff
    expect(refusals[1]?.retryMs).toBe(2000);
    expect(s.apiUp).toBe(false);
    expect(seen).not.toContain('connected');
  });
});
