// Interop against real daemons: an upstream BIRD 2 router and two PoPs, each with gobgpd,
// a gtm agent and two LB nodes, in network namespaces this test creates and removes.
// What the router sees (through its control socket) is the ground truth.
import { type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdClient, renderBfdOnlyConfig, renderBirdConfig, type BirdRoute } from '../../lab/bird.js';
import { addAddress, addNs, delNs, fetchIn, ip, killPid, link, spawnIn, waitExit } from '../../lab/netns.js';
import type { AgentStatus } from '../../src/agent/index.js';
import { hashToken } from '../../src/auth/index.js';
import { FileStateStore } from '../../src/state/index.js';
import { KEYS, type AgentReport } from '../../src/contract/index.js';
import { EXAMPLE, ROOT, tempDir } from '../helpers/dns.js';
import { waitForValue } from '../helpers/wait.js';

const ID = `gt${process.pid % 100000}`;
const NS = { rtr: `${ID}r`, a: `${ID}a`, b: `${ID}b` };
const OPERATOR = 'operator-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';
const AS_OPERATOR = { authorization: `Bearer ${OPERATOR}` };
const V4 = '198.51.100.10/32';
const V6 = '2001:db8:10::10/128';
const dir = tempDir('gtm-agent-');
const procs: ChildProcess[] = [];
const lb: Record<string, ChildProcess> = {};
const agents: Record<string, ChildProcess> = {};
const agentLogs: Record<string, string> = {};
let bird: BirdClient;
let config: string;

function popYaml(name: string, n: number, asn: number, region: string): string {
  return `  ${name}:
    region: ${region}
    api: 127.0.0.1:9180
    maintenance_file: ${join(dir, `${name}.maintenance`)}
    bgp:
      asn: ${asn}
      router_id: 10.100.${n}.2
      api: 127.0.0.1:50051
      listen_addresses: [10.100.${n}.2]
      neighbors: [{ address: 10.100.${n}.1, asn: 65000 }]
      next_hop: 10.100.${n}.2
      next_hop6: fd00:100:${n}::2
      med: 100
      hold_down_ms: 300
      drain: { duration_ms: 1500, med: 500 }${name === 'pop-b' ? `\n      bfd_socket: ${join(dir, 'bird', 'bfd-b.ctl')}` : ''}
    vips:
${[V4, V6]
  .map(
    (v) => `      - address: ${v.split('/')[0]}
        nodes: [{ name: lb1, address: 10.100.${n}.11 }, { name: lb2, address: 10.100.${n}.12 }]
        checks: [{ type: http, port: 8080, path: /healthz, timeout_ms: 300 }]
        interval_ms: 100
        rise: 2
        fall: 3
        min_healthy: 1
`,
  )
  .join('')}`;
}

function startLb(ns: string, name: string, addr: string): void {
  const p = spawnIn(ns, process.execPath, [join(ROOT, 'dist', 'lab', 'lb-node.js'), name, addr, '8080']);
  procs.push(p);
  lb[`${ns}/${name}`] = p;
}

function startAgent(pop: string, ns: string): ChildProcess {
  const p = spawnIn(ns, process.execPath, [
    join(ROOT, 'bin', 'gtm.js'),
    'agent',
    '--config',
    config,
    '--pop',
    pop,
    '--state-dir',
    join(dir, pop),
  ]);
  agentLogs[pop] = '';
  p.stdout?.on('data', (d) => (agentLogs[pop] += d));
  p.stderr?.on('data', (d) => (agentLogs[pop] += d));
  procs.push(p);
  agents[pop] = p;
  return p;
}

async function routes(prefix: string): Promise<BirdRoute[]> {
  return bird.routes(prefix).catch(() => []);
}

const until = <T>(what: string, f: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 15_000) =>
  waitForValue(what, f, ok, timeoutMs, 25, () => `\nlogs: ${JSON.stringify(agentLogs).slice(-3000)}`);

const from = (rs: BirdRoute[], proto: string) => rs.find((r) => r.protocol === proto);
const heartbeat = async (pop: string) =>
  (await new FileStateStore(join(dir, 'state.json')).get<AgentReport>(KEYS.agent(pop)))?.value;

function status(ns: string): AgentStatus {
  return JSON.parse(fetchIn(ns, 'http://127.0.0.1:9180/status').body) as AgentStatus;
}

beforeAll(async () => {
  const example = readFileSync(EXAMPLE, 'utf8');
  config = join(dir, 'config.yaml');
  // Agents publish heartbeats into a shared file store, as DNS servers would consume them.
  writeFileSync(
    config,
    `${example}\ncontrol:\n  store: { file: ${join(dir, 'state.json')} }\n  lease_ms: 2000\n  heartbeat_ms: 200\n  api:\n    tokens:\n      - { name: oncall, sha256: ${hashToken(OPERATOR)}, scopes: [drain], regions: [us-east] }\n      - { name: viewer, sha256: ${hashToken(VIEWER)}, scopes: [read] }\npops:\n${popYaml('pop-a', 1, 65001, 'us-east')}${popYaml('pop-b', 2, 65002, 'eu-west')}`,
  );
  for (const ns of Object.values(NS)) addNs(ns);
  link(NS.rtr, 'r-a', ['10.100.1.1/24', 'fd00:100:1::1/64'], NS.a, 'a-r', ['10.100.1.2/24', 'fd00:100:1::2/64']);
  link(NS.rtr, 'r-b', ['10.100.2.1/24', 'fd00:100:2::1/64'], NS.b, 'b-r', ['10.100.2.2/24', 'fd00:100:2::2/64']);
  for (const [ns, n] of [
    [NS.a, 1],
    [NS.b, 2],
  ] as const) {
    for (const host of [11, 12]) {
      addAddress(ns, 'lo', `10.100.${n}.${host}/32`);
      startLb(ns, `lb${host - 10}`, `10.100.${n}.${host}`);
    }
  }
  mkdirSync(join(dir, 'bird'), { recursive: true });
  writeFileSync(
    join(dir, 'bird', 'bird.conf'),
    renderBirdConfig({
      routerId: '10.100.0.1',
      asn: 65000,
      logFile: join(dir, 'bird', 'bird.log'),
      peers: [
        { name: 'popa', neighbor: '10.100.1.2', asn: 65001 },
        { name: 'popb', neighbor: '10.100.2.2', asn: 65002, bfd: true },
      ],
    }),
  );
  // pop-b: a BFD-only BIRD beside gobgpd, so the router detects a dead link fast.
  writeFileSync(
    join(dir, 'bird', 'bfd-b.conf'),
    renderBfdOnlyConfig({ routerId: '10.100.2.2', neighbor: '10.100.2.1', logFile: join(dir, 'bird', 'bfd-b.log') }),
  );
  procs.push(
    spawnIn(NS.b, 'bird', ['-f', '-c', join(dir, 'bird', 'bfd-b.conf'), '-s', join(dir, 'bird', 'bfd-b.ctl')]),
  );
  const sock = join(dir, 'bird', 'bird.ctl');
  procs.push(
    spawnIn(NS.rtr, 'bird', [
      '-f',
      '-c',
      join(dir, 'bird', 'bird.conf'),
      '-s',
      sock,
      '-P',
      join(dir, 'bird', 'bird.pid'),
    ]),
  );
  await until('bird control socket', () => existsSync(sock), Boolean, 5000);
  bird = await BirdClient.connect(sock);
  startAgent('pop-a', NS.a);
  startAgent('pop-b', NS.b);
}, 60_000);

afterAll(async () => {
  bird?.close();
  for (const p of procs) killPid(p.pid, 'SIGKILL');
  await Promise.all(procs.map((p) => waitExit(p, 2000)));
  // gobgpd run by agents we SIGKILLed is stopped by its watchdog; make sure by PID file-free means:
  for (const ns of Object.values(NS)) delNs(ns);
  rmSync(dir, { recursive: true, force: true });
});

describe('agent + gobgpd + BIRD', () => {
  it('announces the anycast VIP (IPv4 and IPv6) from both PoPs', async () => {
    await until(
      'both PoPs announce v4',
      () => routes(V4),
      (rs) => !!from(rs, 'popa') && !!from(rs, 'popb'),
      30_000,
    );
    const v6 = await until(
      'both PoPs announce v6',
      () => routes(V6),
      (rs) => !!from(rs, 'popa') && !!from(rs, 'popb'),
    );
    expect(from(v6, 'popa')?.nextHop).toBe('fd00:100:1::2');
    const v4 = await routes(V4);
    expect(from(v4, 'popa')).toMatchObject({ nextHop: '10.100.1.2', med: 100, asPath: [65001] });
    expect(status(NS.a)).toMatchObject({ serving: true, bgp: { sessionUp: true } });
    await until(
      'pop-a heartbeat says serving',
      () => heartbeat('pop-a'),
      (r) => r?.serving === true && r.vips.every((v) => v.state === 'UP'),
    );
  });

  it('keeps the path while enough LB nodes are healthy, withdraws when the cluster fails, re-announces on recovery', async () => {
    killPid(lb[`${NS.a}/lb1`]?.pid);
    // Longer than fall x interval: lb1 is down by now, and pop-a must have stayed announced.
    const end = Date.now() + 800;
    while (Date.now() < end) {
      if (!from(await routes(V4), 'popa'))
        throw new Error(
          `pop-a withdrawn with lb2 still up; pop-a log:\n${agentLogs['pop-a']?.split('\n').slice(-40).join('\n')}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(JSON.stringify(status(NS.a).vips)).toContain('"state":"UP"');

    const t0 = Date.now();
    killPid(lb[`${NS.a}/lb2`]?.pid);
    try {
      await until(
        'pop-a withdrawn',
        () => routes(V4),
        (rs) => !from(rs, 'popa') && !!from(rs, 'popb'),
      );
      expect(Date.now() - t0).toBeLessThan(5000); // the figure itself is measured by npm run bench:failover
      // The IPv6 VIP is probed on its own schedule: wait for it too before judging `serving`.
      await until(
        'pop-a v6 withdrawn',
        () => routes(V6),
        (rs) => !from(rs, 'popa'),
      );
      await until(
        'pop-a no longer claims to serve',
        () => status(NS.a),
        (st) => !st.serving,
        3000,
      );
      // ...and says so in its heartbeat, which is what takes the region out of DNS.
      const hb = await until(
        'pop-a heartbeat says DOWN',
        () => heartbeat('pop-a'),
        (r) => r?.serving === false && r.vips.every((v) => v.state === 'DOWN'),
        3000,
      );
      expect(hb?.region).toBe('us-east');
      // The BGP layer of this failover, measured by the agent: from lb2's first failing probe to
      // the withdrawal reaching gobgpd (within what the test saw at the router).
      const metrics = fetchIn(NS.a, 'http://127.0.0.1:9180/metrics').body;
      const of = (s: string) =>
        Number(
          new RegExp(`^gtm_agent_failover_seconds_${s}\\{pop="pop-a",vip="${V4}"\\} (\\S+)$`, 'm').exec(metrics)?.[1],
        );
      expect(of('count')).toBe(1);
      expect(of('sum')).toBeGreaterThan(0);
      expect(of('sum')).toBeLessThan((Date.now() - t0) / 1000);
    } finally {
      startLb(NS.a, 'lb1', '10.100.1.11');
      startLb(NS.a, 'lb2', '10.100.1.12');
    }
    await until(
      'pop-a back',
      () => routes(V4),
      (rs) => !!from(rs, 'popa'),
    );
    expect(agentLogs['pop-a']).toMatch(/"from":"UP","to":"DOWN"/);
  });

  it('drains through the API: less preferred (GRACEFUL_SHUTDOWN, MED) first, then withdrawn', async () => {
    const r = fetchIn(
      NS.a,
      'http://127.0.0.1:9180/maintenance',
      'POST',
      { enabled: true, reason: 'test drain' },
      AS_OPERATOR,
    );
    expect(r.status).toBe(200);
    const drained = await until(
      'pop-a de-preferred',
      () => routes(V4),
      (rs) => from(rs, 'popa')?.localPref === 0,
    );
    expect(from(drained, 'popa')).toMatchObject({ med: 500 });
    expect(from(drained, 'popa')?.communities).toContain('65535:0');
    expect(from(drained, 'popb')?.best).toBe(true);
    try {
      await until(
        'pop-a withdrawn after the drain period',
        () => routes(V4),
        (rs) => !from(rs, 'popa'),
      );
    } finally {
      fetchIn(NS.a, 'http://127.0.0.1:9180/maintenance', 'POST', { enabled: false }, AS_OPERATOR);
    }
    // Who did it is in the shared audit trail.
    const audits = (
      await new FileStateStore(join(dir, 'state.json')).list<{ who: string; action: string; why: string }>(KEYS.audit)
    ).map((e) => e.value);
    expect(audits).toContainEqual(
      expect.objectContaining({ who: 'oncall', action: 'agent-maintenance-on', why: 'test drain' }),
    );
    await until(
      'pop-a back after maintenance',
      () => routes(V4),
      (rs) => from(rs, 'popa')?.localPref === 100,
    );
  });

  it('refuses maintenance without a token, with a wrong one, or one without drain for this region: nothing moves', async () => {
    const post = (headers: Record<string, string>, ns: string = NS.a) =>
      fetchIn(ns, 'http://127.0.0.1:9180/maintenance', 'POST', { enabled: true, reason: 'hostile' }, headers).status;
    // What an unprivileged local user could send: no token at all.
    expect(post({})).toBe(401);
    expect(post({ authorization: 'Bearer not-the-token-0123456789' })).toBe(401);
    expect(post({ authorization: `Bearer ${VIEWER}` })).toBe(403);
    expect(post(AS_OPERATOR, NS.b)).toBe(403); // the operator's token is for us-east only
    // Refused before the body is parsed: a malformed body without a token is still 401.
    expect(fetchIn(NS.a, 'http://127.0.0.1:9180/maintenance', 'POST', '{not json').status).toBe(401);
    expect(status(NS.a).maintenance).toMatchObject({ on: false });
    expect(status(NS.b).maintenance).toMatchObject({ on: false });
    expect(from(await routes(V4), 'popa')?.localPref).toBe(100);
    // Reads stay open (read_requires_token is off): status and health for everyone.
    expect(fetchIn(NS.a, 'http://127.0.0.1:9180/status').status).toBe(200);
  });

  it('rejects a malformed maintenance request with 400 and changes nothing', async () => {
    const r = fetchIn(NS.a, 'http://127.0.0.1:9180/maintenance', 'POST', { enable: 'yes' }, AS_OPERATOR);
    expect(r.status).toBe(400);
    expect(from(await routes(V4), 'popa')).toBeDefined();
  });

  it('drains through the maintenance file too', async () => {
    const f = join(dir, 'pop-b.maintenance');
    writeFileSync(f, 'planned work\n');
    try {
      await until(
        'pop-b de-preferred',
        () => routes(V4),
        (rs) => from(rs, 'popb')?.localPref === 0,
      );
      await until(
        'pop-b withdrawn',
        () => routes(V4),
        (rs) => !from(rs, 'popb'),
      );
    } finally {
      rmSync(f);
    }
    await until(
      'pop-b back',
      () => routes(V4),
      (rs) => from(rs, 'popb')?.localPref === 100,
    );
  });

  it('reports an upstream session that is down and does not claim to serve', async () => {
    await bird.command('disable popb');
    await until(
      'pop-b reports no session',
      () => status(NS.b),
      (s) => !s.bgp.sessionUp && !s.serving,
    );
    await bird.command('enable popb');
    await until(
      'pop-b session back',
      () => routes(V4),
      (rs) => !!from(rs, 'popb'),
    );
    expect(status(NS.b).serving).toBe(true);
  });

  it('withdraws a silently blackholed PoP through BFD, well before the 9 s BGP hold time, and its agent (reading BFD) stops claiming to serve at once', async () => {
    await until(
      'BFD session up',
      async () => (await bird.command('show bfd sessions')).join('\n'),
      (t) => /10\.100\.2\.2\s+\S+\s+Up/.test(t),
    );
    await until(
      'pop-b agent sees BFD up',
      async () => status(NS.b),
      (st) => st.bgp.bfd['10.100.2.1'] === 'Up' && st.serving,
    );
    const t0 = Date.now();
    // No FIN, no NOTIFICATION: the PoP's address just stops answering.
    ip('-n', NS.b, 'addr', 'del', '10.100.2.2/24', 'dev', 'b-r');
    // The agent reads its BFD helper (bgp.bfd_socket): not serving although gobgpd still
    // calls the session Established (until its 9 s hold time).
    await until(
      'pop-b agent stops claiming to serve',
      async () => status(NS.b),
      (st) => !st.serving,
      3000,
    );
    const st = status(NS.b);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(st.bgp.sessions['10.100.2.1']).toBe('ESTABLISHED');
    expect(st.bgp.bfd['10.100.2.1']).toBe('Down');
    expect(st.bgp.sessionUp).toBe(false);
    await until(
      'pop-b withdrawn by BFD',
      () => routes(V4),
      (rs) => !from(rs, 'popb'),
      8000,
    );
    expect(Date.now() - t0).toBeLessThan(3000);
    ip('-n', NS.b, 'addr', 'add', '10.100.2.2/24', 'dev', 'b-r');
    await until(
      'pop-b back after the link returns',
      () => routes(V4),
      (rs) => !!from(rs, 'popb'),
      30_000,
    );
    await until(
      'pop-b agent serving again',
      async () => status(NS.b),
      (s2) => s2.serving && s2.bgp.bfd['10.100.2.1'] === 'Up',
      10_000,
    );
  });

  it('withdraws when the agent is frozen (SIGSTOP): the watchdog stops gobgpd after agent_liveness_ms; the thawed agent re-announces', async () => {
    const agent = agents['pop-a'] as ChildProcess;
    const gobgpd = status(NS.a).bgp.gobgpdPid;
    const t0 = Date.now();
    killPid(agent.pid, 'SIGSTOP');
    try {
      await until(
        'pop-a withdrawn while its agent is frozen',
        () => routes(V4),
        (rs) => !from(rs, 'popa'),
        10_000,
      );
      const ms = Date.now() - t0;
      // The 2 s of silence count from the last tick (ticks are 500 ms apart), and it is well
      // before the 9 s BGP hold time.
      expect(ms).toBeGreaterThanOrEqual(1400);
      expect(ms).toBeLessThan(6000);
      // Stopped: gone, or a zombie its frozen parent cannot reap yet (the session may close a
      // moment before the process has exited, so give it a few seconds).
      const running = () => {
        try {
          return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${gobgpd}/stat`, 'utf8'));
        } catch {
          return false;
        }
      };
      await until(
        'gobgpd stopped by the watchdog',
        () => running(),
        (r) => !r,
        3000,
      );
      expect(running()).toBe(false);
    } finally {
      killPid(agent.pid, 'SIGCONT');
    }
    await until(
      'pop-a re-announced by the thawed agent',
      () => routes(V4),
      (rs) => !!from(rs, 'popa'),
      20_000,
    );
  });

  it('/healthz stops saying gobgpd is reachable within 3 s of gobgpd freezing, and recovers', async () => {
    const health = () => fetchIn(NS.a, 'http://127.0.0.1:9180/healthz');
    // Precondition: the agent (thawed in the test before) has its gobgpd back and reachable.
    await until(
      'healthz 200 before the freeze',
      () => health(),
      (r) => r.status === 200,
      10_000,
    );
    const gobgpd = status(NS.a).bgp.gobgpdPid;
    const t0 = Date.now();
    killPid(gobgpd, 'SIGSTOP');
    try {
      await until(
        'healthz 503',
        () => health(),
        (r) => r.status === 503,
        5000,
      );
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(JSON.parse(health().body)).toMatchObject({ bgpApiUp: false, serving: false });
    } finally {
      killPid(gobgpd, 'SIGCONT');
    }
    await until(
      'healthz 200 again',
      () => health(),
      (r) => r.status === 200,
      10_000,
    );
  });

  it('re-announces after gobgpd is killed and restarted, with no duplicate path', async () => {
    const pid = status(NS.a).bgp.gobgpdPid;
    expect(pid).toBeGreaterThan(0);
    killPid(pid, 'SIGKILL');
    await until(
      'pop-a gone with gobgpd',
      () => routes(V4),
      (rs) => !from(rs, 'popa'),
    );
    await until(
      'pop-a re-announced',
      () => routes(V4),
      (rs) => !!from(rs, 'popa'),
      20_000,
    );
    expect(status(NS.a).bgp.gobgpdPid).not.toBe(pid);
    expect((await routes(V4)).filter((r) => r.protocol === 'popa')).toHaveLength(1);
    expect(from(await routes(V6), 'popa')).toBeDefined();
  });

  it('drains and withdraws on SIGTERM before exiting, and stops its gobgpd', async () => {
    const gobgpd = status(NS.a).bgp.gobgpdPid;
    const agent = agents['pop-a'] as ChildProcess;
    agent.kill('SIGTERM');
    await until(
      'pop-a de-preferred on shutdown',
      () => routes(V4),
      (rs) => from(rs, 'popa')?.localPref === 0,
    );
    await until(
      'pop-a withdrawn on shutdown',
      () => routes(V4),
      (rs) => !from(rs, 'popa'),
    );
    await waitExit(agent, 10_000);
    expect(agent.exitCode).toBe(0);
    expect(() => process.kill(gobgpd, 0)).toThrow();
  });

  it('withdraws when the agent is SIGKILLed (policy: withdraw, enforced by the gobgpd watchdog)', async () => {
    const gobgpd = status(NS.b).bgp.gobgpdPid;
    killPid(agents['pop-b']?.pid, 'SIGKILL');
    await until(
      'pop-b withdrawn after agent death',
      () => routes(V4),
      (rs) => !from(rs, 'popb'),
    );
    await until(
      'gobgpd stopped',
      () => {
        try {
          process.kill(gobgpd, 0);
          return false;
        } catch {
          return true;
        }
      },
      Boolean,
    );
  });
});
