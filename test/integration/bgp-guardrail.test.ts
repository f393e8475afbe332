// The BGP guard rail with three real agents (fake BGP speakers, a real shared state file): every
// PoP's health check fails at the same moment on one shared false signal. They decide at the
// same time, so only the store's atomic claim keeps them from all withdrawing: exactly one may
// go, the other two keep the shared VIP announced in drained form and report it held. When the
// store cannot be read the agents decide locally (withdraw), as documented.
import { writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/index.js';
import { hashToken } from '../../src/auth/index.js';
import { startControl } from '../../src/control/index.js';
import { parseConfigText, type Config } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/index.js';
import { FileStateStore } from '../../src/state/index.js';
import { KEYS, type AgentReport } from '../../src/contract/index.js';
import { EXAMPLE, tempDir } from '../helpers/dns.js';
import { FakeSpeaker } from '../helpers/fake-speaker.js';
import { waitFor } from '../helpers/wait.js';

const SHARED = '198.51.100.100/32';
const TOKEN = 'guardrail-test-token-0123456789';

function fleetConfig(dir: string): Config {
  const pop = (name: string, region: string, n: number) => `  ${name}:
    region: ${region}
    api: 127.0.0.1:0
    bgp: { asn: 6500${n}, router_id: 10.0.${n}.2, neighbors: [{ address: 10.0.${n}.1, asn: 65000 }], next_hop: 10.0.${n}.2, hold_down_ms: 500, drain: { duration_ms: 1000, communities: ["65535:0"], prepend: 2 } }
    vips:
      - { address: "anycast:frontend", nodes: [{ name: lb1, address: 10.0.${n}.11 }], checks: [{ type: tcp, port: 80 }], rise: 1, fall: 1 }
`;
  return parseConfigText(`${readFileSync(EXAMPLE, 'utf8')}
anycast:
  frontend: { address: 198.51.100.100, min_announcing: 1, max_withdrawn_share: 0.5, window_s: 2 }
pops:
${pop('nyc', 'us-east', 1)}${pop('dub', 'eu-west', 2)}${pop('sin', 'ap-southeast', 3)}
control:
  store: { file: ${join(dir, 'state.json')} }
  lease_ms: 1500
  heartbeat_ms: 100
  api: { listen: 127.0.0.1:0, audit_log: ${join(dir, 'audit.jsonl')}, tokens: [{ name: ops, sha256: ${hashToken(TOKEN)} }] }
`);
}

describe('BGP guard rail across a fleet of agents', () => {
  let agents: { agent: Agent; speaker: FakeSpeaker }[] = [];
  afterEach(async () => {
    for (const a of agents) await a.agent.close();
    agents = [];
  });

  async function fleet(dir: string) {
    const config = fleetConfig(dir);
    agents = config.pops.map((pop) => {
      const speaker = new FakeSpeaker();
      const agent = new Agent(config, pop, {
        stateDir: join(dir, pop.name),
        wrapper: '',
        log: createLogger(`t-${pop.name}`, 'silent'),
        speaker,
        probe: false,
        apiPort: 0,
      });
      return { agent, speaker };
    });
    for (const { agent } of agents) await agent.start();
    const health = (ok: boolean, which = agents) => {
      for (const { agent } of which)
        agent.handle({ kind: 'probe', result: { vip: 0, node: 0, ok, detail: ok ? 'ok' : 'fail', ms: 1 } });
    };
    health(true);
    const store = new FileStateStore(join(dir, 'state.json'));
    const reports = async () => (await store.list<AgentReport>(KEYS.agents)).map((e) => e.value);
    await waitFor(
      async () => (await reports()).filter((r) => r.vips[0]?.state === 'UP').length === 3,
      'three PoPs announcing the shared VIP',
      5000,
    );
    return { health, reports, store, config };
  }

  it('a shared false signal: one PoP may withdraw, two keep it announced drained, all say so', async () => {
    const dir = tempDir('gtm-guardrail-');
    const { health, reports } = await fleet(dir);
    health(false); // the same instant, everywhere
    await waitFor(
      () =>
        agents.every(
          ({ agent }) => agent.status().vips[0]?.held === true || agent.status().vips[0]?.announce === 'none',
        ),
      'every agent to have decided',
      5000,
    );
    await new Promise((r) => setTimeout(r, 700)); // a few more rounds: nobody else may go
    for (const a of agents) await a.agent.requestReconcile();
    const withdrawn = agents.filter(({ speaker }) => speaker.client.paths.length === 0);
    const held = agents.filter(({ agent }) => agent.status().vips[0]?.held);
    expect(withdrawn).toHaveLength(1);
    expect(held).toHaveLength(2);
    for (const { speaker } of held) {
      // Drained form: GRACEFUL_SHUTDOWN and the prepend, so routers prefer any healthy path.
      expect(speaker.client.paths).toMatchObject([{ prefix: SHARED, communities: ['65535:0'], prepend: 2 }]);
    }
    await waitFor(
      async () => (await reports()).filter((r) => r.vips[0]?.held).length === 2,
      'the held state in the heartbeats',
      3000,
    );
    expect(held[0]?.agent.status().vips[0]?.reason).toMatch(
      /held announced by the BGP guard rail: .*(max_withdrawn_share|min_announcing)/,
    );

    // One region really recovers: it announces normally again, and nothing else moves.
    const back = held[0] as (typeof agents)[number];
    health(true, [back]);
    await back.agent.requestReconcile();
    expect(back.speaker.client.paths).toMatchObject([{ prefix: SHARED, prepend: 0 }]);
    await new Promise((r) => setTimeout(r, 700));
    for (const a of agents) await a.agent.requestReconcile();
    expect(agents.filter(({ speaker }) => speaker.client.paths.length === 0)).toHaveLength(1);
    expect(held[1]?.agent.status().vips[0]?.held).toBe(true);
  }, 30_000);

  it('a store that cannot be read: each agent decides locally and withdraws', async () => {
    const dir = tempDir('gtm-guardrail-nostore-');
    const { health } = await fleet(dir);
    writeFileSync(join(dir, 'state.json'), '[]'); // unreadable state: every read and write refused
    health(false);
    await waitFor(
      () => agents.every(({ agent }) => agent.status().vips[0]?.announce === 'none'),
      'every agent to withdraw on its own decision',
      5000,
    );
    for (const a of agents) await a.agent.requestReconcile();
    expect(agents.every(({ speaker }) => speaker.client.paths.length === 0)).toBe(true);
    expect(agents[0]?.agent.status().vips[0]?.held).toBe(false);
  }, 30_000);

  it('one drain for both layers: an API drain of us-east drains its agent in BGP, then withdraws; undrain brings it back', async () => {
    const dir = tempDir('gtm-drain-both-');
    const { store, config } = await fleet(dir);
    const control = await startControl(config, store, createLogger('t-control', 'silent'));
    try {
      const call = (method: string, path: string, body?: object) =>
        fetch(`http://127.0.0.1:${control.port}${path}`, {
          method,
          headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
      const nyc = agents[0] as (typeof agents)[number];
      expect((await call('POST', '/api/v1/regions/us-east/drain', { reason: 'drill' })).status).toBe(200);
      // BGP drain first: GRACEFUL_SHUTDOWN and the prepend, not held even for a shared VIP.
      await waitFor(() => nyc.agent.status().vips[0]?.state === 'DRAINING', 'the agent to drain', 3000);
      await nyc.agent.requestReconcile();
      expect(nyc.speaker.client.paths).toMatchObject([{ prefix: SHARED, communities: ['65535:0'], prepend: 2 }]);
      expect(nyc.agent.status().maintenance.operator).toMatchObject({ reason: 'drill', who: 'ops' });
      // ... then withdrawn after the drain period (1 s here).
      await waitFor(() => nyc.agent.status().vips[0]?.state === 'DISABLED', 'the withdrawal after the drain', 3000);
      await nyc.agent.requestReconcile();
      expect(nyc.speaker.client.paths).toEqual([]);
      for (const other of agents.slice(1)) expect(other.agent.status().vips[0]?.state).toBe('UP');
      // The API says who announces the shared VIP, and how.
      type View = { anycast: { name: string; announcing: number; pops: { pop: string; announce: string }[] }[] };
      await waitFor(
        async () => {
          const v = ((await (await call('GET', '/api/v1/state')).json()) as View).anycast[0];
          return v?.announcing === 2 && v.pops.find((p) => p.pop === 'nyc')?.announce === 'withdrawn';
        },
        'the API to show nyc withdrawn and two PoPs announcing',
        3000,
      );
      expect((await call('DELETE', '/api/v1/regions/us-east/override?reason=done')).status).toBe(200);
      await waitFor(() => nyc.agent.status().vips[0]?.state === 'UP', 'the undrain', 3000);
      await nyc.agent.requestReconcile();
      expect(nyc.speaker.client.paths).toMatchObject([{ prefix: SHARED, prepend: 0 }]);
      // Per operator action, from the control plane only: one pending record, then one outcome.
      const audit = (await (await call('GET', '/api/v1/audit?limit=10')).json()) as {
        action: string;
        outcome: string;
      }[];
      const ours = audit.filter((a) => /drain|override/.test(a.action));
      expect(ours.map((a) => a.outcome).sort()).toEqual(['applied', 'applied', 'pending', 'pending']);
    } finally {
      await control.close();
    }
  }, 30_000);
});
