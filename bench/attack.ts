// `npm run bench:attack` (also in bench:dns): the DNS server under a flood, in the same run,
// against the same server with its protections off (the reference):
//  1. a random-name DO flood saturating a signed zone from one client, while a second client
//     asks the steered name (ECS, DO) at 20% of its unloaded rate: its answered share and p99;
//  2. reflection: bytes sent back to a spoofed victim per byte of queries, RRL on and off, and
//     whether a real resolver (kdig) behind the victim's /24 still resolves (over TCP);
//  3. unloaded QPS of the steered name with RRL, the miss budget and dnstap on and off;
//  4. in-process: the popular name's memo hit rate through a one-off-name flood, and worker
//     memory over a sustained flood (BENCH_FLOOD_S, default 120 s).
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildTestDatabases, withGeoDatabase } from '../geodata/build-test-db.js';
import { parseConfigText } from '../src/config/index.js';
import { Authority, compileZones } from '../src/dns/index.js';
import { generateKey, loadZoneKeys, writeKey } from '../src/dnssec/index.js';
import { GeoResolver } from '../src/geo/index.js';
import { packageRoot } from '../src/runtime/index.js';
import { InMemoryRegionState } from '../src/state/index.js';
import { buildQuery, TYPE } from '../src/wire/index.js';
import {
  cleanup,
  dnsperfCommand,
  latenciesMs,
  percentile,
  startGtm,
  waitForAnswer,
  workerRss,
  type Gtm,
} from './kit.js';

const ROOT = packageRoot();
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const FLOOD_S = Number(process.env.BENCH_FLOOD_S ?? 120);
const ECS_OPTION = '8:00011800c61204'; // ECS 198.18.4.0/24 (Singapore in the test database)
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** dnsperf from a given source address (a /24 of its own), its summary figures and latencies. */
async function dnsperf(port: number, from: string, file: string, args: string[]) {
  const [program, ...rest] = dnsperfCommand(port, file, ['-a', from, '-t', '1', ...args]);
  const { stdout } = await run(program as string, rest, { maxBuffer: 512 << 20 });
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    p99: percentile(latenciesMs(stdout), 99),
  };
}

/** Queries from a spoofed "victim" address: bytes it sent and bytes it got back, in 2 s. */
async function reflect(port: number, from: string, n: number): Promise<{ sent: number; got: number }> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind({ address: from, port: 0 }, () => r()));
  const t = { sent: 0, got: 0 };
  s.on('message', (m) => (t.got += m.length));
  // The largest answer a small query gets from a signed zone: DNSKEY with DO.
  const q = buildQuery('example.test', TYPE.DNSKEY, { id: 1, edns: { udpSize: 4096, dnssecOk: true } });
  for (let i = 0; i < n; i++) {
    s.send(q, port, '127.0.0.1');
    t.sent += q.length;
    if (i % 20 === 19) await sleep(1);
  }
  await sleep(1500);
  s.close();
  return t;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gtm-bench-attack-'));
  const { city } = buildTestDatabases(dir);
  const keyDir = join(dir, 'keys');
  writeKey(keyDir, generateKey('example.test', 'csk', 13, Date.now()));
  const signed = withGeoDatabase(readFileSync(join(ROOT, 'examples', 'three-regions.yaml'), 'utf8'), city)
    .replace('metrics: 127.0.0.1:9153', 'metrics: 127.0.0.1:0')
    .replace('    ns: [ns1, ns2]\n', `    ns: [ns1, ns2]\n    dnssec: { keys: ${keyDir} }\n`);
  const rrl = '  rrl:\n    responses_per_second: 10\n    slip: 2\n';
  const neverLimits = '  rrl:\n    responses_per_second: 1000000\n'; // every budget kept, none spent
  const variants = {
    'protections off': signed.replace(/^dns:\n/m, 'dns:\n  miss_budget: 0\n'),
    'miss budget (default)': signed,
    'miss budget 8': signed.replace(/^dns:\n/m, 'dns:\n  miss_budget: 8\n'),
    'miss budget, over: drop': signed.replace(/^dns:\n/m, 'dns:\n  over_budget: drop\n'),
    // The queue a flood builds kept whole (the 4 MB receive buffer holds all 800 outstanding).
    'budget, queue never shortened': signed.replace(/^dns:\n/m, 'dns:\n  udp_receive_buffer_saturated: 0\n'),
    // The same defaults with a socket per worker on the batched path, and on Node's dgram (the
    // default is batched on one socket the workers share, where the addon is built).
    'batched, a socket per worker': signed.replace(/^dns:\n/m, 'dns:\n  udp_sockets: per-worker\n'),
    'dgram path': signed.replace(/^dns:\n/m, 'dns:\n  io: dgram\n'),
    'miss budget + RRL': signed.replace(/^dns:\n/m, `dns:\n${rrl}`),
    'budget + RRL never limiting': signed.replace(/^dns:\n/m, `dns:\n${neverLimits}`),
    'dnstap on (every query and response)': signed.replace(
      /^dns:\n/m,
      `dns:\n  dnstap: { file: ${join(dir, 'tap')} }\n`,
    ),
  };
  const base = 26353 + Math.floor(Math.random() * 1000);
  const servers = new Map<string, { port: number; gtm: Gtm }>();
  Object.entries(variants).forEach(([name, text], i) => {
    const file = join(dir, `v${i}.yaml`);
    writeFileSync(file, text);
    servers.set(name, { port: base + i * 11, gtm: startGtm(file, base + i * 11) });
  });
  await Promise.all([...servers.values()].map((s) => waitForAnswer(s.port)));
  const port = (name: keyof typeof variants) => (servers.get(name) as { port: number }).port;

  const steered = join(dir, 'steered.txt');
  writeFileSync(steered, 'www.example.test A\n');
  const random = join(dir, 'random.txt');
  writeFileSync(
    random,
    Array.from({ length: 200_000 }, () => `r${Math.random().toString(36).slice(2, 12)}.example.test A`).join('\n'),
  );
  const user = ['-E', ECS_OPTION, '-D'];

  // 3. Unloaded QPS of the steered name (ECS, DO): what the protections cost when unused.
  console.log(`dnsperf ${SECONDS}s per run, UDP over loopback, signed zone (ECDSA P-256), 2 workers per server`);
  console.log('\nunloaded: steered name + ECS + DO, QPS (median of 3, interleaved)');
  const unloaded = new Map<string, number>();
  const rounds = new Map<string, number[]>();
  for (let r = 0; r < 3; r++)
    for (const name of [
      'protections off',
      'miss budget (default)',
      'budget + RRL never limiting',
      'dnstap on (every query and response)',
    ] as const) {
      const res = await dnsperf(port(name), '127.0.1.2', steered, [
        '-l',
        String(SECONDS),
        '-c',
        '4',
        '-q',
        '200',
        ...user,
      ]);
      rounds.set(name, [...(rounds.get(name) ?? []), res.qps]);
    }
  for (const [name, qs] of rounds) {
    const median = qs.slice().sort((a, b) => a - b)[1] as number;
    unloaded.set(name, median);
    const ratio = median / (unloaded.get('protections off') as number);
    console.log(
      `  ${name.padEnd(30)} ${median.toFixed(0).padStart(8)}  ${(ratio * 100).toFixed(1)}% of off   [${qs.map((q) => q.toFixed(0)).join(', ')}]`,
    );
  }

  // 1. The flood and the user beside it: 3 interleaved rounds, the median p99 and the range.
  console.log('\nrandom-name DO flood (one client, 4 x 200 outstanding) + a user at 20% of the unloaded rate');
  console.log('3 rounds, interleaved: median [range]');
  console.log('  server                          flood QPS   user answered %   user p99 ms');
  const userAt = (name: keyof typeof variants) =>
    dnsperf(port(name), '127.0.1.2', steered, [
      '-l',
      String(SECONDS),
      '-Q',
      String(Math.round(0.2 * (unloaded.get('protections off') as number))),
      '-v',
      ...user,
    ]);
  const floodOf = (name: keyof typeof variants) =>
    dnsperf(port(name), '127.0.0.2', random, ['-l', String(SECONDS + 2), '-c', '4', '-q', '200', '-D']);
  // The references: the user with no flood, and beside a flood of another server on the same
  // cores (what sharing the machine with the flood costs, with no queue in common).
  type Row = { flood?: number; answered: number; p99: number };
  const rows: [string, () => Promise<Row>][] = [
    ['(no flood: the user alone)', async () => userRow(undefined, await userAt('miss budget (default)'))],
    ['(flood on another server)', () => floodBeside('miss budget 8', 'miss budget (default)')],
    ...(
      [
        'protections off',
        'miss budget (default)',
        'budget, queue never shortened',
        'miss budget 8',
        'miss budget, over: drop',
        'batched, a socket per worker',
        'dgram path',
      ] as const
    ).map((name) => [name, () => floodBeside(name, name)] as [string, () => Promise<Row>]),
  ];
  function userRow(flood: number | undefined, u: { completed: number; sent: number; p99: number }): Row {
    return { flood, answered: (100 * u.completed) / u.sent, p99: u.p99 };
  }
  async function floodBeside(flooded: keyof typeof variants, asked: keyof typeof variants) {
    const flood = floodOf(flooded);
    await sleep(1000);
    const u = await userAt(asked);
    return userRow((await flood).qps, u);
  }
  const results = new Map<string, Row[]>();
  for (let r = 0; r < 3; r++)
    for (const [name, measure] of rows) results.set(name, [...(results.get(name) ?? []), await measure()]);
  const cell = (xs: number[], digits: number) => {
    const s = xs.slice().sort((a, b) => a - b);
    return `${(s[1] as number).toFixed(digits)} [${(s[0] as number).toFixed(digits)}-${(s[2] as number).toFixed(digits)}]`;
  };
  for (const [name, rs] of results) {
    const flood =
      rs[0]?.flood === undefined
        ? '-'
        : cell(
            rs.map((x) => x.flood as number),
            0,
          );
    console.log(
      `  ${name.padEnd(30)} ${flood.padStart(22)}  ${cell(
        rs.map((x) => x.answered),
        1,
      ).padStart(18)}  ${cell(
        rs.map((x) => x.p99),
        2,
      ).padStart(20)}`,
    );
  }

  // 2. Reflection.
  console.log('\nreflection: DNSKEY+DO queries "from" a spoofed victim (127.0.3.7), 2000 in ~2 s');
  for (const name of ['miss budget (default)', 'miss budget + RRL'] as const) {
    const r = await reflect(port(name), '127.0.3.7', 2000);
    const k = await run('kdig', [
      '@127.0.0.1',
      '-p',
      String(port(name)),
      '-b',
      '127.0.3.8',
      '+time=2',
      '+dnssec',
      'example.test',
      'DNSKEY',
    ]);
    const resolved = /example\.test\.\s+\d+\s+IN\s+DNSKEY/.test(k.stdout);
    const how = resolved ? (/TCP/.test(k.stdout) ? 'yes, over TCP' : 'yes, over UDP') : 'no';
    console.log(
      `  ${name.padEnd(22)} victim got ${(r.got / r.sent).toFixed(2)}x the bytes sent (${r.got} / ${r.sent}); a resolver in its /24 resolves: ${how}`,
    );
  }

  // 4a. Sustained flood: worker memory every 30 s (flat after the first minute is the target).
  const sustained = servers.get('miss budget (default)') as { port: number; gtm: Gtm };
  const long = dnsperf(sustained.port, '127.0.0.2', random, ['-l', String(FLOOD_S), '-c', '4', '-q', '200', '-D']);
  const firstMinute = Math.min(60, FLOOD_S / 2);
  const series: string[] = [];
  const start = Date.now();
  const every = setInterval(() => {
    series.push(`${Math.round((Date.now() - start) / 1000)} s: ${workerRss(sustained.gtm.child).join('/')}`);
  }, 30_000);
  await sleep(firstMinute * 1000);
  const early = workerRss(sustained.gtm.child);
  await long;
  clearInterval(every);
  const late = workerRss(sustained.gtm.child);
  console.log(
    `\nsustained DO flood ${FLOOD_S} s: worker RSS MB ${early.join(', ')} (after ${firstMinute} s) -> ${late.join(', ')} (end)`,
  );
  if (series.length) console.log(`  every 30 s: ${series.join(', ')}`);
  cleanup();

  // 4b. In-process: the popular name's memo hit rate through a flood of one-off DO names.
  const config = parseConfigText(signed);
  const zones = compileZones(config, loadZoneKeys(config));
  const a = new Authority(config, GeoResolver.open(city), InMemoryRegionState.fromConfig(config), zones);
  const ecs = { address: Uint8Array.from([198, 18, 4, 0]), sourcePrefix: 24 };
  let asked = 0;
  let hits = 0;
  for (let i = 0; i < 300_000; i++) {
    a.respond(
      buildQuery(`r${i}.example.test`, TYPE.A, { id: 1, edns: { udpSize: 1232, dnssecOk: true } }),
      '127.0.0.2',
      false,
    );
    if (i % 50 === 0) {
      const before = a.memoHits;
      a.respond(
        buildQuery('www.example.test', TYPE.A, { id: 2, ecs, edns: { udpSize: 1232, dnssecOk: true } }),
        '127.0.1.2',
        false,
      );
      asked++;
      hits += a.memoHits - before;
    }
  }
  const sig = a.cacheStats().find((c) => c.cache === 'signatures')?.stats;
  console.log(
    `\nin-process, 300,000 one-off DO names with the steered name asked every 50th: its memo hit rate ${((100 * hits) / asked).toFixed(2)}% (${hits}/${asked}); signature cache ${sig?.size} entries, ${sig?.evictions} evicted`,
  );
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    cleanup();
    process.exit(1);
  },
);
