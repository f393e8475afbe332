// `npm run bench:control`: the control plane at fleet size. Simulated agents heartbeat every
// 500 ms through the real store code (etcd from Debian's etcd-server, and the state file);
// a RegionFeed follows the store as a DNS primary does (in this process, so it shares the
// agents' event loop: a pessimistic figure), and `gtm control` serves reads in its own process.
// Printed per fleet size: heartbeat write latency, DOWN->DNS time (an agent reports its
// region down; how long until the feed's region state says so), API latency under the load.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, type Config } from '../src/config/index.js';
import { createLogger } from '../src/observability/index.js';
import { InMemoryRegionState, RegionFeed, openStore, type StateStore } from '../src/state/index.js';
import { KEYS, type AgentReport } from '../src/contract/index.js';
import { packageRoot } from '../src/runtime/index.js';
import { startEtcd } from '../lab/etcd.js';

const HEARTBEAT_MS = 500;
const LEASE_MS = 2000;
const MEASURE_MS = Number(process.env.BENCH_SECONDS ?? 10) * 1000;
const REGIONS = 10;
/** Store connections shared by the simulated agents (a real fleet has one per agent). */
const AGENT_CLIENTS = 16;

const log = createLogger('bench-control', 'silent');
const ROOT = packageRoot();
const workDir = mkdtempSync(join(tmpdir(), 'gtm-bench-control-'));

function fleetConfig(agents: number, store: string): { config: Config; configText: string } {
  const lines = ['regions:'];
  for (let r = 0; r < REGIONS; r++)
    lines.push(`  r${r}: { vip: 198.51.100.${r + 1}, location: { lat: ${r * 8 - 40}, lon: ${r * 30 - 150} } }`);
  lines.push(
    'zones:',
    '  example.test: { soa: { mname: ns1, rname: hostmaster, serial: 1 }, ns: [ns1], records: [{ name: ns1, type: A, value: 192.0.2.53 }] }',
    'services:',
    `  www: { name: www.example.test, pools: [${Array.from({ length: REGIONS }, (_, r) => `r${r}`).join(', ')}], policy: nearest }`,
    'control:',
    `  store: ${store}`,
    `  lease_ms: ${LEASE_MS}`,
    `  heartbeat_ms: ${HEARTBEAT_MS}`,
    '  max_regions_out: 0.5',
    '  api: { listen: 127.0.0.1:0, audit_log: /dev/null }',
    'pops:',
  );
  for (let i = 0; i < agents; i++)
    lines.push(
      `  p${i}: { region: r${i % REGIONS}, bgp: { asn: 65001, router_id: 10.0.0.1, neighbors: [{ address: 10.0.0.2, asn: 65000 }], next_hop: 10.0.0.1 }, vips: [{ address: vip, nodes: [{ name: lb, address: 10.1.0.1 }], checks: [{ type: tcp, port: 80 }] }] }`,
    );
  const configText = `${lines.join('\n')}\n`;
  return { config: parseConfigText(configText), configText };
}

/** `gtm control` on a free port with this config; resolves once it answers. */
async function startControlProcess(
  configText: string,
  agents: number,
): Promise<{ url: string; stop(): Promise<void> }> {
  const file = join(workDir, `control-${agents}.yaml`);
  writeFileSync(file, configText);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'gtm.js'), 'control', '--config', file, '--port', String(port)],
    {
      stdio: 'ignore',
      env: { ...process.env, GTM_LOG_LEVEL: 'warn' },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/api/v1/regions`)).ok) break;
    } catch {
      /* not yet */
    }
    if (child.exitCode !== null || i > 200) throw new Error('gtm control did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

interface Row {
  store: string;
  agents: number;
  writes: number[];
  downToDns: number[];
  api: number[];
  missedBeats: number;
}

/** GET `url` every 20 ms for `ms` from a child process; the latencies (ms) of the 200 OK replies. */
function probeApi(url: string, ms: number): Promise<number[]> {
  const script = `
    const until = Date.now() + ${ms};
    const out = [];
    (async () => {
      while (Date.now() < until) {
        const t0 = performance.now();
        const r = await fetch(${JSON.stringify(url)});
        await r.arrayBuffer();
        if (r.ok) out.push(performance.now() - t0);
        await new Promise((res) => setTimeout(res, 20));
      }
      process.stdout.write(JSON.stringify(out));
    })();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.on('error', reject);
    child.on('exit', () => resolve(text ? (JSON.parse(text) as number[]) : []));
  });
}

async function run(kind: 'etcd' | 'file', agents: number, storeYaml: string): Promise<Row> {
  const { config, configText } = fleetConfig(agents, storeYaml);
  const settings = config.control?.store as NonNullable<Config['control']>['store'];
  const clients: StateStore[] = [];
  for (let i = 0; i < Math.min(agents, AGENT_CLIENTS); i++) clients.push(await openStore(settings));
  const serving = new Map<string, boolean>();
  const writes: number[] = [];
  let missedBeats = 0;
  // As the agent's Heartbeat does: one write at a time per agent; a change during a write is
  // written right after it (never dropped); a timer beat during a write is one missed beat.
  const inFlight = new Map<string, { again: boolean }>();
  const beat = async (i: number, change = false): Promise<void> => {
    const pop = `p${i}`;
    const busy = inFlight.get(pop);
    if (busy) {
      if (change) busy.again = true;
      else missedBeats++;
      return;
    }
    const flight = { again: false };
    inFlight.set(pop, flight);
    const region = `r${i % REGIONS}`;
    const report: AgentReport = {
      pop,
      region,
      serving: serving.get(region) ?? true,
      sessionUp: true,
      vips: [{ prefix: '198.51.100.1/32', state: serving.get(region) === false ? 'DOWN' : 'UP' }],
      at: Date.now(),
    };
    const t0 = performance.now();
    try {
      await (clients[i % clients.length] as StateStore).put(KEYS.agent(pop), report, { leaseMs: LEASE_MS });
      writes.push(performance.now() - t0);
    } catch {
      missedBeats++;
    } finally {
      inFlight.delete(pop);
    }
    if (flight.again) await beat(i, true);
  };
  // Every agent heartbeats on its own phase, as a fleet started at different times does.
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < agents; i++)
    timers.push(
      setTimeout(
        () => timers.push(setInterval(() => void beat(i), HEARTBEAT_MS)),
        Math.floor((i / agents) * HEARTBEAT_MS),
      ),
    );
  await Promise.all(Array.from({ length: agents }, (_, i) => beat(i)));

  // The follower, as in a DNS primary; and the control API.
  const feedStore = await openStore(settings);
  const state = InMemoryRegionState.fromConfig(config);
  const feed = new RegionFeed(config, feedStore, state, log);
  feed.start();
  await feed.waitReady(10_000);
  // The control API in its own process, as operators run it.
  const api = await startControlProcess(configText, agents);

  const until = Date.now() + MEASURE_MS;
  // The API client runs in its own small process: timed from this one, a reply would wait for
  // this event loop, busy with a thousand simulated agents, and the figure would be ours.
  const apiLoop = probeApi(`${api.url}/api/v1/regions`, MEASURE_MS);
  // DOWN->DNS: every agent of one region reports it down at once (as on a cluster failure),
  // then up again; the clock runs from the change to the feed's region state.
  const downToDns: number[] = [];
  const waitStatus = async (region: string, status: string, t0: number): Promise<number> => {
    while (state.get(region)?.status !== status) {
      if (performance.now() - t0 > 30_000) return NaN;
      await new Promise((res) => setTimeout(res, 1));
    }
    return performance.now() - t0;
  };
  for (let k = 0; Date.now() < until - 2000; k++) {
    const region = `r${k % REGIONS}`;
    const members = Array.from({ length: agents }, (_, i) => i).filter((i) => i % REGIONS === k % REGIONS);
    serving.set(region, false);
    const t0 = performance.now();
    members.forEach((i) => void beat(i, true));
    downToDns.push(await waitStatus(region, 'down', t0));
    serving.set(region, true);
    const t1 = performance.now();
    members.forEach((i) => void beat(i, true));
    await waitStatus(region, 'up', t1);
    await new Promise((res) => setTimeout(res, 300));
  }
  const api_ = await apiLoop;
  for (const t of timers) clearInterval(t);
  await api.stop();
  feed.stop();
  await Promise.all([feedStore.close(), ...clients.map((c) => c.close())]);
  return { store: kind, agents, writes, downToDns, api: api_, missedBeats };
}

async function main(): Promise<void> {
  const etcd = await startEtcd();
  const dir = workDir;
  const rows: Row[] = [];
  try {
    for (const n of [10, 100, 500, 1000])
      rows.push(await run('etcd', n, `{ etcd: [${etcd.endpoint}], prefix: /bench-${n}/ }`));
    for (const n of [10, 100, 250]) rows.push(await run('file', n, `{ file: ${join(dir, `state-${n}.json`)} }`));
  } finally {
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const f = (x: number) => (Number.isNaN(x) ? '   n/a' : x.toFixed(1).padStart(7));
  console.log(
    `\nsimulated agents, heartbeat ${HEARTBEAT_MS} ms, ${REGIONS} regions, ${MEASURE_MS / 1000} s per row; ms (median / p99)`,
  );
  console.log(
    'store  agents   write p50  write p99  missed beats   DOWN->DNS p50    p99  (n)    API p50  API p99  (n)',
  );
  for (const r of rows)
    console.log(
      `${r.store.padEnd(5)} ${String(r.agents).padStart(7)}  ${f(pct(r.writes, 50))}    ${f(pct(r.writes, 99))}  ${String(r.missedBeats).padStart(12)}   ${f(pct(r.downToDns, 50))}  ${f(pct(r.downToDns, 99))} (${r.downToDns.length})  ${f(pct(r.api, 50))}  ${f(pct(r.api, 99))} (${r.api.length})`,
    );
  const big = rows.find((r) => r.store === 'etcd' && r.agents === 1000) as Row;
  const mark = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
  console.log('\ntargets (issue 12), 1,000 agents on etcd');
  console.log(`  DOWN->DNS p99 < 1 s:       ${f(pct(big.downToDns, 99))} ms ${mark(pct(big.downToDns, 99) < 1000)}`);
  console.log(`  control API p99 < 50 ms:   ${f(pct(big.api, 99))} ms ${mark(pct(big.api, 99) < 50)}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
