// `npm run bench:dns`: dnsperf against this server, against gdnsd serving the equivalent zone
// (static names, and www steered by its geoip plugin from the same database) and against a
// bare-Node ceiling, in the same run on the same machine; scale rows (100 and 10,000 regions, a
// 100k-record zone with memory and reload); plus in-process decision time and the wire-parse
// cost of dns2 versus our codec (why the hot path is our own).
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import dns2 from 'dns2';
import { buildTestDatabases, withGeoDatabase } from '../geodata/build-test-db.js';
import { parseConfigText, type Service } from '../src/config/index.js';
import { InMemoryRegionState } from '../src/state/index.js';
import { Authority } from '../src/dns/index.js';
import { buildQuery, parseQuery, TYPE } from '../src/wire/index.js';
import { dbipCityPaths, EMBEDDED_DATABASE, GeoResolver } from '../src/geo/index.js';
import { BENCH_FENCE, bigZoneConfig, bigZoneQueries, manyRegionsConfig } from './scale-configs.js';
import {
  children,
  cleanup,
  dnsperf,
  gtmDnsCommand,
  latenciesMs,
  median,
  pauseTrees,
  schedUse,
  percentile,
  startGtm,
  waitForAnswer,
  workerRss,
  type Gtm,
} from './kit.js';
import { worldSubnets, writeSubnetQueries } from './subnet-queries.js';
import { canPin, pinnedTail, type PinnedServer, type Tail } from './tail.js';
import { generateKey, writeKey, ZoneSigner } from '../src/dnssec/index.js';
import { packageRoot } from '../src/runtime/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROOT = packageRoot();
const ECS_OPTION = '8:00011800c61204'; // ECS 198.18.4.0/24 (Singapore in the test database)
/** The steering rows of issue 30 over 100 regions (the bench's ECS subnet is pinned by a fence). */
const BIASED_FENCED = { policy: '{ nearest: { bias: { r1: 50, r7: -30, r42: 20 } } }', fence: BENCH_FENCE };
const STICKY_FENCED = { policy: '{ weighted: { sticky: true } }', fence: BENCH_FENCE };
/** A random weighted draw per answer (not remembered per client): issue 32's weighted rows. */
const WEIGHTED = { policy: 'weighted' };

interface Throughput {
  qps: number;
  avgMs: number;
  lost: number;
}

/**
 * dnsperf options for a row: ECS, DO (a DNSSEC-aware resolver's queries), queries read whole from
 * a binary file (-B: each its own ECS), and TCP (-m tcp: dnsperf pipelines on each connection).
 */
type RowOptions = { ecs: boolean; dnssec?: boolean; binary?: boolean; tcp?: boolean };
const rowArgs = (o: RowOptions) => [
  ...(o.ecs ? ['-E', ECS_OPTION] : []),
  ...(o.dnssec ? ['-D'] : []),
  ...(o.binary ? ['-B'] : []),
  ...(o.tcp ? ['-m', 'tcp'] : []),
];

/**
 * A config's `dns` section (block or flow style) with a UDP path asked for by name: the default
 * (`auto`) is batched where the addon is built, so a dgram row must say so (from 2026-12-04 01:08
 * until this was mended, the rows labelled dgram ran batched).
 */
function withIo(text: string, io: 'batched' | 'dgram'): string {
  const out = text.replace(/^dns:\n/m, `dns:\n  io: ${io}\n`).replace(/^dns: \{ /m, `dns: { io: ${io}, `);
  if (out === text) throw new Error(`no dns section to put io: ${io} in`);
  return out;
}

/** Rate of the fixed-load runs that measure CPU per query (issue 32's figure). */
const CPU_RATE = 20_000;

/** One CPU sample: µs of CPU, sleeps and preemptions, each per query. */
interface CpuSample {
  micros: number;
  sleeps: number;
  preempted: number;
}

/**
 * CPU µs per query of a server's process tree while dnsperf asks at a fixed rate from `clients`
 * sockets, with its threads' sleeps and preemptions per query (why the CPU is what it is: at a
 * fixed rate each wake-up costs about the same, so fewer queries per wake cost more each).
 * One client is one source port: a server with a socket per thread or worker (gdnsd, gtm
 * per-worker) answers it all on one, where on a shared socket every worker takes a share.
 */
function cpuPerQuery(pid: number, port: number, queryFile: string, o: RowOptions, clients: number): CpuSample {
  const before = schedUse(pid);
  const out = dnsperf(port, queryFile, ['-l', '5', '-Q', String(CPU_RATE), '-c', String(clients), ...rowArgs(o)]);
  const after = schedUse(pid);
  const done = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  return {
    micros: ((after.seconds - before.seconds) / done) * 1e6,
    sleeps: (after.sleeps - before.sleeps) / done,
    preempted: (after.preempted - before.preempted) / done,
  };
}

function saturate(port: number, queryFile: string, o: RowOptions): Throughput {
  const out = dnsperf(port, queryFile, ['-l', String(SECONDS), '-c', '4', '-q', '200', ...rowArgs(o)]);
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    lost: num(/Queries lost:\s+(\d+)/),
  };
}

/** Per-query latencies at a fixed rate below saturation, from dnsperf -v. */
function latencyAt(
  port: number,
  queryFile: string,
  o: RowOptions,
  qps: number,
): { p50: number; p90: number; p99: number; n: number } {
  const out = dnsperf(port, queryFile, ['-l', '4', '-Q', String(Math.round(qps)), '-v', ...rowArgs(o)]);
  const lat = latenciesMs(out);
  return { p50: percentile(lat, 50), p90: percentile(lat, 90), p99: percentile(lat, 99), n: lat.length };
}

function inProcess(configText: string, dbPath?: string): Record<string, number> {
  const config = parseConfigText(configText);
  const geo = GeoResolver.open(dbPath ?? config.geo.database, config.geo.asnDatabase);
  const state = InMemoryRegionState.fromConfig(config);
  const authority = new Authority(config, geo, state);
  const service = config.services[0] as Service;
  const ecsQuery = (a: number) => ({
    edns: {
      udpSize: 1232,
      version: 0,
      dnssecOk: false,
      ecs: {
        family: 1 as const,
        sourcePrefix: 24,
        address: Uint8Array.from([a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, 0]),
      },
    },
  });
  // Cold: every query from a different /24 spread over the address space (geo caches miss).
  const cold = Array.from({ length: 1 << 20 }, (_, i) => ecsQuery(Math.imul(i + 1, 2654435761) >>> 0));
  // Warm: 4096 client networks repeating, as behind a set of busy resolvers.
  const warm = cold.slice(0, 4096);
  const time = (n: number, f: (i: number) => void): number => {
    // Warm-up, then n operations or 3 s, whichever ends first (a slow row must still finish).
    const budget = (ms: number) => process.hrtime.bigint() + BigInt(ms * 1e6);
    let end = budget(1000);
    for (let i = 0; i < Math.min(n, 50_000) && process.hrtime.bigint() < end; i++) f(i);
    const t0 = process.hrtime.bigint();
    end = budget(3000);
    let done = 0;
    while (done < n) {
      f(done++);
      if ((done & 63) === 0 && process.hrtime.bigint() > end) break;
    }
    return Number(process.hrtime.bigint() - t0) / done / 1000; // µs per op
  };
  const query = buildQuery('www.example.test', TYPE.A, {
    id: 1,
    ecs: { address: Uint8Array.from([198, 18, 4, 0]), sourcePrefix: 24 },
  });
  const located = cold.filter((q) => geo.lookup(`${q.edns.ecs.address.join('.')}`).location).length / cold.length;
  return {
    located,
    decideColdUs: time(1 << 20, (i) => authority.decide(service, cold[i] as never, '127.0.0.1', 4)),
    decideWarmUs: time(1_000_000, (i) => authority.decide(service, warm[i & 4095] as never, '127.0.0.1', 4)),
    respondUs: time(500_000, () => authority.respond(query, '127.0.0.1', false)),
    ourParseUs: time(1_000_000, () => parseQuery(query)),
    dns2ParseUs: time(200_000, () => dns2.Packet.parse(query)),
  };
}

const BIG_ZONE = 100_000;
const cores = availableParallelism();

/** SIGHUP, then the time until the primary logs that every worker has the new config. */
async function timeReload(gtm: Gtm, file: string): Promise<number> {
  // An edit to reload: a SIGHUP with nothing changed is answered "unchanged" and applies nothing.
  appendFileSync(file, `# edited for a timed reload at ${Date.now()}\n`);
  const before = gtm.events.length;
  const t0 = performance.now();
  gtm.child.kill('SIGHUP');
  for (;;) {
    if (gtm.events.slice(before).some((l) => l.includes('"config.reloaded"'))) return performance.now() - t0;
    if (gtm.events.slice(before).some((l) => l.includes('"config.refused"'))) throw new Error('reload refused');
    if (performance.now() - t0 > 120_000) throw new Error('reload did not finish in 120 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** dnsperf in the background (the reload happens while it runs). */
function spawnDnsperf(port: number, queryFile: string, extra: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, ...extra]);
    children.push(p);
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.on('error', reject);
    p.on('exit', () => resolve(out));
  });
}

/**
 * gdnsd serving the same zone: static names statically, and www steered by its geoip plugin from
 * the same test City database (city-auto-mode: nearest of the three regions' coordinates, one
 * answer, with ECS), so a steered answer is compared with a steered answer. `udpThreads` unset:
 * gdnsd's default (a thread per core).
 */
function writeGdnsd(root: string, port: number, city: string, ourConfig: string, udpThreads?: number): void {
  for (const d of ['zones', 'geoip', 'run', 'state']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(city, join(root, 'geoip', 'test-city.mmdb'));
  const coords = (name: string) => {
    const r = parseConfigText(ourConfig).regions.get(name);
    return `[${r?.lat}, ${r?.lon}]`;
  };
  const threads = udpThreads ? `, udp_threads => ${udpThreads}, tcp_threads => 1` : '';
  writeFileSync(
    join(root, 'config'),
    [
      // Its own run and state directories: a gdnsd already on the machine is left alone.
      `options => { listen => [ 127.0.0.1:${port} ]${threads}, run_dir => ${join(root, 'run')}, state_dir => ${join(root, 'state')} }`,
      'plugins => { geoip => {',
      '  maps => { regions => {',
      '    geoip2_db => test-city.mmdb,',
      '    datacenters => [us-east, eu-west, ap-southeast],',
      `    auto_dc_coords => { us-east => ${coords('us-east')}, eu-west => ${coords('eu-west')}, ap-southeast => ${coords('ap-southeast')} },`,
      '    auto_dc_limit => 1,',
      '  } },',
      '  resources => { www => { map => regions, dcmap => { us-east => 198.51.100.10, eu-west => 198.51.100.20, ap-southeast => 198.51.100.30 } } }',
      '}}',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(root, 'zones', 'example.test'),
    [
      '$TTL 3600',
      '@ 60 SOA ns1 hostmaster 2026112201 3600 600 604800 60',
      '@ 86400 NS ns1',
      '@ 86400 NS ns2',
      'ns1 300 A 192.0.2.53',
      'ns2 300 A 192.0.2.54',
      'static 300 A 192.0.2.80',
      'www 30 DYNA geoip!www',
      '',
    ].join('\n'),
  );
}

const PINNED_CEILING = 'pinned node ceiling';

/**
 * The tail at half load with each server pinned apart from dnsperf (bench/tail.ts): gdnsd with one
 * UDP thread, gtm with one worker on each UDP path, and the dgram node ceiling with one worker,
 * each alone on CPU 1. The ceiling's saturation here is the server's, not dnsperf's (unpinned, on
 * 2 cores shared with dnsperf, every row lands at what dnsperf sends).
 */
async function pinnedRows(
  dir: string,
  city: string,
  configs: { ours: string; dgram: string; ceiling: (port: number) => string[] },
  basePort: number,
  only?: RegExp,
): Promise<Map<string, Tail>> {
  const { ours: ourConfig, dgram: dgramConfig } = configs;
  const names = ['pinned gdnsd geoip', 'pinned gtm batched', 'pinned gtm dgram', PINNED_CEILING];
  if (!canPin() || (only && !names.some((n) => only.test(n)))) return new Map();
  writeGdnsd(join(dir, 'gdnsd-pinned'), basePort, city, ourConfig, 1);
  const gtm = (file: string, text: string, port: number) => {
    writeFileSync(join(dir, file), text.replace('workers: auto', 'workers: 1'));
    return gtmDnsCommand(join(dir, file), port);
  };
  const servers: PinnedServer[] = [
    { name: names[0]!, port: basePort, command: ['gdnsd', '-c', join(dir, 'gdnsd-pinned'), '-f', 'start'] },
    { name: names[1]!, port: basePort + 1, command: gtm('pinned-batched.yaml', ourConfig, basePort + 1) },
    { name: names[2]!, port: basePort + 2, command: gtm('pinned-dgram.yaml', dgramConfig, basePort + 2) },
    { name: names[3]!, port: basePort + 3, command: configs.ceiling(basePort + 3) },
  ];
  const tail = await pinnedTail(
    servers,
    join(dir, 'geo.txt'),
    ['-E', ECS_OPTION],
    Number(process.env.BENCH_ROUNDS ?? 3),
  );
  console.log('\nhalf-load tail, each server pinned to CPU 1 (1 worker / UDP thread), dnsperf to CPU 0,');
  console.log(`a probe of 2,000 QPS beside half of the server's own saturation (median of the rounds)`);
  for (const [name, t] of tail)
    console.log(
      `  ${name.padEnd(20)} saturation ${t.qps.toFixed(0).padStart(7)} QPS  probe p50 ${t.p50.toFixed(3)} ms, p99 ${t.p99.toFixed(3)} ms  (probe alone p99 ${t.aloneP99.toFixed(3)} ms)`,
    );
  return tail;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gtm-bench-'));
  const { city } = buildTestDatabases(dir);
  const example = readFileSync(join(ROOT, 'examples', 'three-regions.yaml'), 'utf8');
  // gtm's rows run on the batched UDP path (dns.io: batched, one socket the workers share: the
  // default where the addon is built); one row each with a socket per worker and on dgram.
  const base = withGeoDatabase(example, city).replace('metrics: 127.0.0.1:9153', 'metrics: 127.0.0.1:0');
  const ourConfig = withIo(base, 'batched');
  const dgramConfig = withIo(base, 'dgram');
  writeFileSync(join(dir, 'gtm.yaml'), ourConfig);
  const ourPort = 25353 + Math.floor(Math.random() * 1000);
  const gdnsdPort = ourPort + 1000;

  writeGdnsd(join(dir, 'gdnsd'), gdnsdPort, city, ourConfig);
  const gdnsd = spawn('gdnsd', ['-c', join(dir, 'gdnsd'), '-f', 'start'], { stdio: 'ignore' });
  children.push(gdnsd);
  const ours = startGtm(join(dir, 'gtm.yaml'), ourPort);
  // The ceiling: a cluster of as many workers as gtm runs, answering with gtm's own answer
  // to the static query, precomputed once (only the ID is patched per packet).
  const ceilingPort = ourPort + 2000;
  const staticAnswer = new Authority(
    parseConfigText(ourConfig),
    GeoResolver.open(city),
    InMemoryRegionState.fromConfig(parseConfigText(ourConfig)),
  ).respond(buildQuery('static.example.test', TYPE.A, { id: 0 }), '127.0.0.1', false).response as Buffer;
  const batchedCeilingPort = ourPort + 2500;
  const ceilingArgs = (port: number, workers: number, io: 'dgram' | 'batched') => [
    join(ROOT, 'dist', 'bench', 'ceiling.js'),
    String(port),
    String(workers),
    staticAnswer.toString('hex'),
    io,
  ];
  const ceilingPids = [ceilingPort, batchedCeilingPort].map((port) => {
    const args = ceilingArgs(port, cores, port === ceilingPort ? 'dgram' : 'batched');
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    children.push(child);
    return child.pid as number;
  });
  // The same server on Node's dgram: what the batched path (the default where built) gains.
  const dgramPort = ourPort + 11000;
  writeFileSync(join(dir, 'gtm-dgram.yaml'), dgramConfig);
  const dgramGtm = startGtm(join(dir, 'gtm-dgram.yaml'), dgramPort);
  // And with a socket per worker (dns.udp_sockets: per-worker): what sharing one costs.
  const perWorkerPort = ourPort + 14000;
  writeFileSync(join(dir, 'gtm-per-worker.yaml'), ourConfig.replace(/^dns:\n/m, 'dns:\n  udp_sockets: per-worker\n'));
  const perWorkerGtm = startGtm(join(dir, 'gtm-per-worker.yaml'), perWorkerPort);
  // Many clients: the default geo data (DB-IP City Lite when installed), asked from one subnet and
  // from 100,000 across the world, each query with its own ECS (dnsperf -B).
  const worldPort = ourPort + 12000;
  const worldDb = dbipCityPaths() ? '' : `database: ${city}`;
  writeFileSync(join(dir, 'gtm-world.yaml'), ourConfig.replace(`database: ${city}`, worldDb));
  const world = startGtm(join(dir, 'gtm-world.yaml'), worldPort);
  const subnets = worldSubnets(100_000, 32);
  writeSubnetQueries(join(dir, 'world.bin'), 'www.example.test', subnets);
  writeSubnetQueries(join(dir, 'one-subnet.bin'), 'www.example.test', subnets.slice(0, 1));
  // Scale: the same steered name over 100 and 10,000 regions, and a zone of 100,000 records.
  const scaled = [
    { name: 'gtm 100 regions + ECS', text: manyRegionsConfig(100, city), port: ourPort + 3000 },
    { name: 'gtm 10k regions + ECS', text: manyRegionsConfig(10_000, city), port: ourPort + 4000 },
    { name: 'gtm 100k-record zone', text: bigZoneConfig(BIG_ZONE, city), port: ourPort + 5000 },
    { name: 'gtm 100 biased+fenced', text: manyRegionsConfig(100, city, BIASED_FENCED), port: ourPort + 7000 },
    { name: 'gtm 100 sticky+fenced', text: manyRegionsConfig(100, city, STICKY_FENCED), port: ourPort + 8000 },
    { name: 'gtm 3 weighted', text: manyRegionsConfig(3, city, WEIGHTED), port: ourPort + 9000 },
    { name: 'gtm 100 weighted', text: manyRegionsConfig(100, city, WEIGHTED), port: ourPort + 10000 },
  ]
    .map((s) => ({ ...s, text: withIo(s.text, 'batched') }))
    .map((s) => {
      const file = join(dir, `${s.name.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(file, s.text);
      return { ...s, file, gtm: startGtm(file, s.port) };
    });
  // Signed: the same config with the zone signed online (one CSK, ECDSA P-256), asked with and
  // without DO: the same server, so the ratio is the cost of signing.
  const signedPort = ourPort + 6000;
  const keyDir = join(dir, 'keys');
  writeKey(keyDir, generateKey('example.test', 'csk', 13, Date.now()));
  writeFileSync(
    join(dir, 'signed.yaml'),
    ourConfig.replace('    ns: [ns1, ns2]\n', `    ns: [ns1, ns2]\n    dnssec: { keys: ${keyDir} }\n`),
  );
  const signed = startGtm(join(dir, 'signed.yaml'), signedPort);
  await Promise.all(
    [
      gdnsdPort,
      ourPort,
      ceilingPort,
      batchedCeilingPort,
      dgramPort,
      perWorkerPort,
      signedPort,
      ...scaled.map((s) => s.port),
    ].map(waitForAnswer),
  );
  const idleRss = new Map([
    [`gtm (3 regions)`, workerRss(ours.child)],
    ...scaled.map((s) => [s.name, workerRss(s.gtm.child)] as const),
  ]);

  writeFileSync(join(dir, 'static.txt'), 'static.example.test A\n');
  writeFileSync(join(dir, 'geo.txt'), 'www.example.test A\n');
  writeFileSync(join(dir, 'big.txt'), bigZoneQueries(BIG_ZONE, 100_000));
  const plain = { ecs: false };
  const ecs = { ecs: true };
  // BENCH_ROWS (a regular expression) runs only the rows it matches: for a quick look.
  const only = process.env.BENCH_ROWS ? new RegExp(process.env.BENCH_ROWS) : undefined;
  const allRuns: [string, number, string, RowOptions][] = [
    ['gdnsd static', gdnsdPort, 'static.txt', plain],
    ['gdnsd geoip + ECS', gdnsdPort, 'geo.txt', ecs],
    ['node ceiling', ceilingPort, 'static.txt', plain],
    ['batched node ceiling', batchedCeilingPort, 'static.txt', plain],
    ['gtm static', ourPort, 'static.txt', plain],
    ['gtm geo-steered + ECS', ourPort, 'geo.txt', ecs],
    ['gtm dgram steered + ECS', dgramPort, 'geo.txt', ecs],
    ['gtm per-worker steered', perWorkerPort, 'geo.txt', ecs],
    ['gdnsd geoip + ECS, TCP', gdnsdPort, 'geo.txt', { ecs: true, tcp: true }],
    ['gtm steered + ECS, TCP', ourPort, 'geo.txt', { ecs: true, tcp: true }],
    ['gtm 1 subnet (-B)', worldPort, 'one-subnet.bin', { ecs: false, binary: true }],
    ['gtm 100k subnets (-B)', worldPort, 'world.bin', { ecs: false, binary: true }],
    ['signed zone, steered+ECS', signedPort, 'geo.txt', ecs],
    ['signed, steered+ECS+DO', signedPort, 'geo.txt', { ecs: true, dnssec: true }],
    [scaled[0]!.name, scaled[0]!.port, 'geo.txt', ecs],
    [scaled[1]!.name, scaled[1]!.port, 'geo.txt', ecs],
    [scaled[2]!.name, scaled[2]!.port, 'big.txt', plain],
    [scaled[3]!.name, scaled[3]!.port, 'geo.txt', ecs],
    [scaled[4]!.name, scaled[4]!.port, 'geo.txt', ecs],
    [scaled[5]!.name, scaled[5]!.port, 'geo.txt', ecs],
    [scaled[6]!.name, scaled[6]!.port, 'geo.txt', ecs],
  ];
  const runs = allRuns.filter(
    ([name]) => !only || only.test(name) || name === 'gdnsd static' || name === 'node ceiling',
  );
  console.log(
    `dnsperf ${SECONDS}s per run, 4 clients, 200 outstanding, UDP over loopback, ${cores} cores shared with dnsperf`,
  );
  // Interleaved rounds, median per server: a shared 2-core VM drifts between runs.
  const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
  const samples = new Map<string, Throughput[]>(runs.map(([name]) => [name, []]));
  for (const [, port, file, o] of runs) saturate(port, join(dir, file), o); // warm-up (JIT, caches)
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, port, file, o] of runs) samples.get(name)?.push(saturate(port, join(dir, file), o));
  }
  const results = new Map<
    string,
    Throughput & { p50: number; p90: number; p99: number; all: number[]; mostLost: number }
  >();
  for (const [name, port, file, o] of runs) {
    const all = (samples.get(name) as Throughput[]).slice().sort((a, b) => a.qps - b.qps);
    const mid = all[Math.floor(all.length / 2)] as Throughput;
    const l = latencyAt(port, join(dir, file), o, mid.qps * 0.5);
    const mostLost = Math.max(...all.map((t) => t.lost));
    results.set(name, { ...mid, ...l, all: all.map((t) => Math.round(t.qps)), mostLost });
  }
  const ref = (results.get('gdnsd static') as Throughput).qps;
  const ceilingQps = (results.get('node ceiling') as Throughput).qps;
  const qpsOf = (name: string) => results.get(name)?.qps ?? NaN;
  console.log(
    `\nserver                    QPS (median of ${ROUNDS})  vs gdnsd  vs ceiling  p50 ms  p90 ms  p99 ms   (latency at 50% of own saturation; all QPS samples)`,
  );
  for (const [name, r] of results) {
    console.log(
      `${name.padEnd(24)}  ${r.qps.toFixed(0).padStart(14)}  ${((r.qps / ref) * 100).toFixed(1).padStart(6)}%  ${((r.qps / ceilingQps) * 100).toFixed(1).padStart(8)}%  ${r.p50.toFixed(3).padStart(6)}  ${r.p90.toFixed(3).padStart(6)}  ${r.p99.toFixed(3).padStart(6)}   [${r.all.join(', ')}]`,
    );
  }

  const worldGeo = GeoResolver.open(dbipCityPaths() ? undefined : city);
  const located = subnets.filter((a) => worldGeo.lookup(a.join('.')).location).length / subnets.length;
  console.log(
    `\n100,000 subnets: ${(located * 100).toFixed(0)}% located by ${dbipCityPaths() ? 'DB-IP City Lite' : 'the test City database'}`,
  );

  // Memory: resident set of each worker, idle after start and after the load above.
  console.log('\nRSS per worker, MB (idle after start -> after the load)');
  const loaded = new Map([
    [`gtm (3 regions)`, workerRss(ours.child)],
    ...scaled.map((s) => [s.name, workerRss(s.gtm.child)] as const),
  ]);
  for (const [name, idle] of idleRss)
    console.log(`  ${name.padEnd(26)} ${idle.join(', ')} -> ${loaded.get(name)?.join(', ')}`);

  // Reload of the 100k-record zone under a steady query load: time to applied, and lost queries.
  const big = scaled[2]!;
  // A quick look (BENCH_ROWS) may not have measured the big zone: a fixed rate then.
  const reloadRate = Math.round((qpsOf(big.name) || 40_000) * 0.25);
  const during = spawnDnsperf(big.port, join(dir, 'big.txt'), ['-l', '8', '-Q', String(reloadRate)]);
  await new Promise((r) => setTimeout(r, 1500));
  const reloadMs = await timeReload(big.gtm, big.file);
  const duringOut = await during;
  const lostDuring = Number(/Queries lost:\s+(\d+)/.exec(duringOut)?.[1] ?? NaN);
  const sentDuring = Number(/Queries sent:\s+(\d+)/.exec(duringOut)?.[1] ?? NaN);
  console.log(
    `\n100k-record zone reload (SIGHUP -> every worker swapped): ${reloadMs.toFixed(0)} ms; under ${reloadRate} QPS: ${lostDuring} of ${sentDuring} queries unanswered`,
  );
  // The CPU rows run with only their own servers up: the others, idle, still wake for their
  // timers on the same 2 cores, and each wake-up of theirs between two of a measured server's
  // costs that one its caches (a JIT-compiled server more than gdnsd; see docs/benchmarks.md).
  for (const g of [world, signed, ...scaled.map((x) => x.gtm)]) g.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1000));
  // CPU per query at one fixed rate for every server on the same question: what each costs the
  // machine, apart from how fast dnsperf (sharing the cores) can push.
  const cpuRows: [string, number, number, string, RowOptions][] = [
    ['gdnsd geoip + ECS', gdnsd.pid as number, gdnsdPort, 'geo.txt', ecs],
    ['node ceiling', ceilingPids[0]!, ceilingPort, 'static.txt', plain],
    ['batched node ceiling', ceilingPids[1]!, batchedCeilingPort, 'static.txt', plain],
    ['gtm geo-steered + ECS', ours.child.pid as number, ourPort, 'geo.txt', ecs],
    ['gtm dgram steered + ECS', dgramGtm.child.pid as number, dgramPort, 'geo.txt', ecs],
    ['gtm per-worker steered', perWorkerGtm.child.pid as number, perWorkerPort, 'geo.txt', ecs],
  ];
  // Interleaved rounds as above: one 5 s sample of a server moved by up to a quarter between runs.
  const cpuSamples = new Map(cpuRows.map(([name]) => [name, { one: [] as CpuSample[], four: [] as CpuSample[] }]));
  // A warm-up at the rate first (a quick look, BENCH_ROWS, has not saturated every server: its
  // JIT would still be compiling in the first sample); then each sample with the other servers
  // stopped: idle, they still wake for their timers.
  for (const [, , port, file, o] of cpuRows)
    dnsperf(port, join(dir, file), ['-l', '2', '-Q', String(CPU_RATE), ...rowArgs(o)]);
  for (let round = 0; round < ROUNDS; round++)
    for (const [name, pid, port, file, o] of cpuRows) {
      const resume = pauseTrees(cpuRows.map((r) => r[1]).filter((p) => p !== pid));
      try {
        cpuSamples.get(name)!.one.push(cpuPerQuery(pid, port, join(dir, file), o, 1));
        cpuSamples.get(name)!.four.push(cpuPerQuery(pid, port, join(dir, file), o, 4));
      } finally {
        resume();
      }
    }
  const micros = (xs: CpuSample[]) => xs.map((x) => x.micros);
  const cpu = new Map([...cpuSamples].map(([name, s]) => [name, median(micros(s.one))]));
  const cpu4 = new Map([...cpuSamples].map(([name, s]) => [name, median(micros(s.four))]));
  console.log(
    `\nCPU µs per query at ${CPU_RATE.toLocaleString('en')} QPS (the server's processes, user + system), from 1 client / 4 clients, median of ${ROUNDS} [all]; then, from 1 client, the threads' sleeps + preemptions per query (medians)`,
  );
  const list = (xs: CpuSample[]) => xs.map((x) => x.micros.toFixed(1)).join(', ');
  for (const [name, s] of cpuSamples) {
    const sleeps = median(s.one.map((x) => x.sleeps));
    const preempted = median(s.one.map((x) => x.preempted));
    console.log(
      `  ${name.padEnd(26)} ${cpu.get(name)!.toFixed(1).padStart(6)} µs [${list(s.one)}]  ${cpu4.get(name)!.toFixed(1).padStart(6)} µs [${list(s.four)}]  ${sleeps.toFixed(2)} + ${preempted.toFixed(2)}`,
    );
  }
  const geoRatio = qpsOf('gtm geo-steered + ECS') / ref;
  const geoVsCeiling = qpsOf('gtm geo-steered + ECS') / ceilingQps;
  const p99 = results.get('gtm geo-steered + ECS')?.p99 ?? NaN;
  const r100 = qpsOf(scaled[0]!.name) / qpsOf('gtm geo-steered + ECS');
  const r10k = qpsOf(scaled[1]!.name) / qpsOf('gtm geo-steered + ECS');
  const signedRatio = qpsOf('signed, steered+ECS+DO') / qpsOf('signed zone, steered+ECS');
  const bigRss = Math.max(...(loaded.get(big.name) ?? [NaN]));
  const rBiased = qpsOf(scaled[3]!.name) / qpsOf(scaled[0]!.name);
  const rSticky = qpsOf(scaled[4]!.name) / qpsOf(scaled[0]!.name);
  const rWeighted100 = qpsOf(scaled[6]!.name) / qpsOf(scaled[5]!.name);
  const rWeightedNearest = qpsOf(scaled[5]!.name) / qpsOf('gtm geo-steered + ECS');
  const steered = results.get('gtm geo-steered + ECS');
  const io = {
    vsGeoip: qpsOf('gtm geo-steered + ECS') / qpsOf('gdnsd geoip + ECS'),
    vsDgramCeiling: qpsOf('gtm geo-steered + ECS') / ceilingQps,
    vsDgram: qpsOf('gtm geo-steered + ECS') / qpsOf('gtm dgram steered + ECS'),
    cpu: (cpu.get('gtm geo-steered + ECS') ?? NaN) / (cpu.get('gdnsd geoip + ECS') ?? NaN),
    perWorker: qpsOf('gtm per-worker steered') / qpsOf('gdnsd geoip + ECS'),
    perWorkerCpu: (cpu.get('gtm per-worker steered') ?? NaN) / (cpu.get('gdnsd geoip + ECS') ?? NaN),
    cpu4: (cpu4.get('gtm geo-steered + ECS') ?? NaN) / (cpu4.get('gdnsd geoip + ECS') ?? NaN),
    world: qpsOf('gtm 100k subnets (-B)') / qpsOf('gtm 1 subnet (-B)'),
    tcp: qpsOf('gtm steered + ECS, TCP') / qpsOf('gdnsd geoip + ECS, TCP'),
    lost: steered?.mostLost ?? NaN,
    p99: steered?.p99 ?? NaN,
    gdnsdP99: results.get('gdnsd geoip + ECS')?.p99 ?? NaN,
  };
  cleanup();
  // The pinned rows run alone: the servers above, idle, still wake for their timers.
  await new Promise((r) => setTimeout(r, 1000));
  const ceiling = (port: number) => [process.execPath, ...ceilingArgs(port, 1, 'dgram')];
  const tail = await pinnedRows(dir, city, { ours: ourConfig, dgram: dgramConfig, ceiling }, ourPort + 13000, only);
  cleanup();

  const ip = inProcess(ourConfig.replace(`database: ${city}`, `database: ${EMBEDDED_DATABASE}`));
  const ipDbip = dbipCityPaths() ? inProcess(ourConfig.replace(`database: ${city}`, '')) : undefined;
  const ipCity = inProcess(ourConfig, city);
  const ip10k = inProcess(manyRegionsConfig(10_000, EMBEDDED_DATABASE));
  const ip10kCity = dbipCityPaths() ? inProcess(manyRegionsConfig(10_000)) : undefined;
  const ip100 = inProcess(manyRegionsConfig(100, EMBEDDED_DATABASE));
  const ip100Biased = inProcess(manyRegionsConfig(100, EMBEDDED_DATABASE, BIASED_FENCED));
  const ip100Sticky = inProcess(manyRegionsConfig(100, EMBEDDED_DATABASE, STICKY_FENCED));
  console.log('\nin-process (one core, µs per operation; policy nearest over 3 regions)');
  console.log(
    `  decision (geo lookup + policy + health), embedded country DB, ${((ip.located as number) * 100).toFixed(0)}% of clients located:`,
  );
  console.log(
    `    cold (a new /24 every query): ${ip.decideColdUs?.toFixed(3)} µs   warm (4096 networks): ${ip.decideWarmUs?.toFixed(3)} µs`,
  );
  if (ipDbip)
    console.log(
      `  decision with DB-IP City Lite (the default), ${((ipDbip.located as number) * 100).toFixed(0)}% located: cold ${ipDbip.decideColdUs?.toFixed(3)} µs, warm ${ipDbip.decideWarmUs?.toFixed(3)} µs`,
    );
  console.log(
    `  decision with the test City DB (few networks, mostly unknown clients): cold ${ipCity.decideColdUs?.toFixed(3)} µs`,
  );
  console.log(
    `  10,000 regions, embedded country DB: decision cold ${ip10k.decideColdUs?.toFixed(3)} µs, warm ${ip10k.decideWarmUs?.toFixed(3)} µs`,
  );
  if (ip10kCity)
    console.log(
      `  10,000 regions, DB-IP City Lite (an ordering per city): decision cold ${ip10kCity.decideColdUs?.toFixed(3)} µs, warm ${ip10kCity.decideWarmUs?.toFixed(3)} µs`,
    );
  console.log(
    `  100 regions, embedded country DB, decision cold / warm: nearest ${ip100.decideColdUs?.toFixed(3)} / ${ip100.decideWarmUs?.toFixed(3)} µs, nearest + bias + fence (AS data) ${ip100Biased.decideColdUs?.toFixed(3)} / ${ip100Biased.decideWarmUs?.toFixed(3)} µs, sticky weighted + fence ${ip100Sticky.decideColdUs?.toFixed(3)} / ${ip100Sticky.decideWarmUs?.toFixed(3)} µs`,
  );
  console.log(`  full respond() for a geo-steered ECS query: ${ipCity.respondUs?.toFixed(3)} µs`);
  const sig = signatureCost();
  console.log(
    `  a fresh signature (one RRset, cache miss): ECDSA P-256 ${sig.ecdsa.toFixed(1)} µs, Ed25519 ${sig.ed25519.toFixed(1)} µs; a cached one ${sig.cached.toFixed(2)} µs`,
  );
  console.log(
    `  parse a query: ours ${ip.ourParseUs?.toFixed(3)} µs, dns2 Packet.parse ${ip.dns2ParseUs?.toFixed(3)} µs (x${((ip.dns2ParseUs as number) / (ip.ourParseUs as number)).toFixed(1)})`,
  );
  const mark = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
  console.log('\ntargets (issue 12)');
  console.log(
    `  steered + ECS >= 85% of the node ceiling:  ${(geoVsCeiling * 100).toFixed(1)}% ${mark(geoVsCeiling >= 0.85)}`,
  );
  console.log(`  steered + ECS vs gdnsd static:             ${(geoRatio * 100).toFixed(1)}%`);
  console.log(
    `  steered + ECS vs gdnsd geoip + ECS:        ${((qpsOf('gtm geo-steered + ECS') / qpsOf('gdnsd geoip + ECS')) * 100).toFixed(1)}%`,
  );
  console.log(`  p99 < 1 ms at half load:                   ${p99.toFixed(3)} ms ${mark(p99 < 1)}`);
  console.log(`  100 regions >= 0.8x the 3-region QPS:      ${r100.toFixed(2)}x ${mark(r100 >= 0.8)}`);
  console.log(`  10,000 regions >= 0.5x the 3-region QPS:   ${r10k.toFixed(2)}x ${mark(r10k >= 0.5)}`);
  console.log(`  100k-record zone <= 150 MB RSS per worker: ${bigRss} MB ${mark(bigRss <= 150)}`);
  console.log(
    `  100k-record reload <= 2 s, none unanswered: ${reloadMs.toFixed(0)} ms, ${lostDuring} lost ${mark(reloadMs <= 2000 && lostDuring === 0)}`,
  );
  console.log(
    `  decision < 5 µs (cold, located clients):   ${ip.decideColdUs?.toFixed(3)} µs ${mark((ip.decideColdUs as number) < 5)}`,
  );
  console.log('\ntargets (issue 30)');
  console.log(
    `  100 regions, nearest + bias + fence >= 0.8x plain nearest: ${rBiased.toFixed(2)}x ${mark(rBiased >= 0.8)}`,
  );
  console.log(
    `  100 regions, sticky weighted + fence >= 0.8x plain nearest: ${rSticky.toFixed(2)}x ${mark(rSticky >= 0.8)}`,
  );
  console.log('\ntargets (issue 32, batched UDP: steered + ECS, 2 workers)');
  console.log(`  >= 0.8x gdnsd's geoip plugin:            ${io.vsGeoip.toFixed(2)}x ${mark(io.vsGeoip >= 0.8)}`);
  console.log(
    `  >= 1.3x the dgram node ceiling:          ${io.vsDgramCeiling.toFixed(2)}x ${mark(io.vsDgramCeiling >= 1.3)}`,
  );
  const pinnedCeiling = tail.get(PINNED_CEILING)?.qps ?? NaN;
  const pinnedVsCeiling = (tail.get('pinned gtm batched')?.qps ?? NaN) / pinnedCeiling;
  console.log(
    `    pinned apart from dnsperf, 1 worker:   ${pinnedVsCeiling.toFixed(2)}x ${mark(pinnedVsCeiling >= 1.3)} (gdnsd, 1 thread: ${((tail.get('pinned gdnsd geoip')?.qps ?? NaN) / pinnedCeiling).toFixed(2)}x)`,
  );
  console.log(`  (the same server on dgram:                ${io.vsDgram.toFixed(2)}x slower than batched)`);
  console.log(`  CPU per query <= 1.5x gdnsd's:           ${io.cpu.toFixed(2)}x ${mark(io.cpu <= 1.5)}`);
  console.log(`    from 4 clients:                        ${io.cpu4.toFixed(2)}x ${mark(io.cpu4 <= 1.5)}`);
  console.log(
    `  (a socket per worker: ${io.perWorker.toFixed(2)}x gdnsd's QPS, ${io.perWorkerCpu.toFixed(2)}x its CPU per query)`,
  );
  console.log(
    `  p99 at half load < 0.5 ms:               ${io.p99.toFixed(3)} ms ${mark(io.p99 < 0.5)} (gdnsd geoip on the same machine: ${io.gdnsdP99.toFixed(3)} ms)`,
  );
  for (const [name, t] of tail)
    if (name !== PINNED_CEILING)
      console.log(
        `    pinned apart from dnsperf, ${name.padEnd(22)} ${t.p99.toFixed(3)} ms ${mark(t.p99 < 0.5)} (probe alone ${t.aloneP99.toFixed(3)} ms)`,
      );
  console.log(`  100k subnets >= 0.7x one subnet:         ${io.world.toFixed(2)}x ${mark(io.world >= 0.7)}`);
  console.log(`  no queries lost in a saturation run:     ${io.lost} at most ${mark(io.lost === 0)}`);
  console.log(`  signed DO >= 0.9x unsigned (same path):  ${signedRatio.toFixed(2)}x ${mark(signedRatio >= 0.9)}`);
  console.log(`  (TCP, pipelined: gtm / gdnsd geoip        ${io.tcp.toFixed(2)}x)`);
  console.log('\ntargets (issue 32, weighted: a random draw per answer)');
  console.log(
    `  weighted over 100 regions >= 0.8x weighted over 3: ${rWeighted100.toFixed(2)}x ${mark(rWeighted100 >= 0.8)}`,
  );
  console.log(
    `  weighted over 3 >= 0.8x nearest over 3:            ${rWeightedNearest.toFixed(2)}x ${mark(rWeightedNearest >= 0.8)}`,
  );
  console.log('\ntargets (issue 13)');
  console.log(
    `  signed steered + ECS + DO >= 0.8x the same server without DO: ${signedRatio.toFixed(2)}x ${mark(signedRatio >= 0.8)}`,
  );
}

/** µs per signature made (a new RRset every time) and per cached one, for both algorithms. */
function signatureCost(): { ecdsa: number; ed25519: number; cached: number } {
  const policy = {
    keyDir: '',
    algorithm: 13 as const,
    dnskeyTtl: 3600,
    validityS: 14 * 86400,
    refreshS: 86400,
    inceptionOffsetS: 3600,
  };
  const per = (alg: 13 | 15, fresh: boolean) => {
    const signer = new ZoneSigner('example.test', [generateKey('example.test', 'csk', alg, 0)], policy);
    const n = fresh ? 5000 : 200_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const rd = Buffer.from([198, 51, fresh ? (i >> 8) & 0xff : 0, fresh ? i & 0xff : 0]);
      signer.sign('www.example.test', TYPE.A, 30, [rd], fresh ? i : 0);
    }
    return Number(process.hrtime.bigint() - t0) / n / 1000;
  };
  return { ecdsa: per(13, true), ed25519: per(15, true), cached: per(13, false) };
}

main().catch((err) => {
  console.error(err);
  cleanup();
  process.exit(1);
});
