// `npm run bench:failover`: time from an LB cluster failure to the VIP's path being gone
// at the upstream BIRD router, for the gtm agent (gobgpd sidecar) and for ExaBGP's
// healthcheck with the same interval, fast interval and thresholds, in one lab run; and for
// the gtm agent, the same withdrawal seen at an FRR 8.4 router peered with the same gobgpd.
// Needs root (network namespaces). Everything it creates is removed at the end.
import { type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BirdClient, renderBirdConfig } from '../lab/bird.js';
import { addAddress, addNs, delNs, killPid, link, spawnIn, waitExit } from '../lab/netns.js';
import { FrrRouter, renderFrrBgpd } from '../lab/frr.js';
import { packageRoot } from '../src/runtime/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const INTERVAL_MS = 100;
const FAST_MS = 50;
const FALL = 3;
const RISE = 2;
const ROOT = packageRoot();
const ID = `gf${process.pid % 100000}`;
const NS = { rtr: `${ID}r`, gtm: `${ID}g`, exa: `${ID}x`, frr: `${ID}f` };
const VIP = { gtm: '198.51.100.10/32', exa: '198.51.100.20/32' };
const dir = mkdtempSync(join(tmpdir(), 'gtm-failover-'));
const procs: ChildProcess[] = [];
const lbs: Record<string, ChildProcess[]> = { gtm: [], exa: [] };

/** SIGTERM first (ExaBGP then stops its healthcheck child, the agent withdraws), then SIGKILL. */
async function cleanup(): Promise<void> {
  for (const p of procs) killPid(p.pid, 'SIGTERM');
  await Promise.all(procs.map((p) => waitExit(p, 3000)));
  for (const ns of Object.values(NS)) delNs(ns);
  rmSync(dir, { recursive: true, force: true });
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

function startLbs(which: 'gtm' | 'exa', n: number): void {
  lbs[which] = [11, 12].map((h) => {
    const p = spawnIn(NS[which], process.execPath, [
      join(ROOT, 'dist', 'lab', 'lb-node.js'),
      `${which}-lb${h}`,
      `10.101.${n}.${h}`,
      '8080',
    ]);
    procs.push(p);
    return p;
  });
}

async function until(f: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  for (const ns of Object.values(NS)) addNs(ns);
  link(NS.rtr, 'r-g', ['10.101.1.1/24'], NS.gtm, 'g-r', ['10.101.1.2/24']);
  link(NS.rtr, 'r-x', ['10.101.2.1/24'], NS.exa, 'x-r', ['10.101.2.2/24']);
  link(NS.frr, 'f-g', ['10.101.3.1/24'], NS.gtm, 'g-f', ['10.101.3.2/24']);
  for (const [ns, n] of [
    [NS.gtm, 1],
    [NS.exa, 2],
  ] as const)
    for (const h of [11, 12]) addAddress(ns, 'lo', `10.101.${n}.${h}/32`);
  startLbs('gtm', 1);
  startLbs('exa', 2);

  mkdirSync(join(dir, 'bird'));
  writeFileSync(
    join(dir, 'bird', 'bird.conf'),
    renderBirdConfig({
      routerId: '10.101.0.1',
      asn: 65000,
      logFile: join(dir, 'bird', 'bird.log'),
      peers: [
        { name: 'gtm', neighbor: '10.101.1.2', asn: 65001 },
        { name: 'exa', neighbor: '10.101.2.2', asn: 65002 },
      ],
    }),
  );
  const sock = join(dir, 'bird', 'bird.ctl');
  procs.push(spawnIn(NS.rtr, 'bird', ['-f', '-c', join(dir, 'bird', 'bird.conf'), '-s', sock]));
  await until(async () => existsSync(sock), 5000, 'bird socket');
  const bird = await BirdClient.connect(sock);
  // FRR, a second upstream of the same gobgpd (its own AS), to see the same withdrawal there.
  mkdirSync(join(dir, 'frr'));
  const frrPeers = [{ name: 'gtm', neighbor: '10.101.3.2', asn: 65001, prefixes: [VIP.gtm] }];
  writeFileSync(
    join(dir, 'frr', 'bgpd.conf'),
    renderFrrBgpd({ routerId: '10.101.3.1', asn: 65010, peers: frrPeers, logFile: join(dir, 'frr', 'bgpd.log') }),
  );
  chmodSync(dir, 0o711); // FRR's daemons run as the frr user
  const frr = await FrrRouter.start(NS.frr, join(dir, 'frr'), frrPeers);
  procs.push(...frr.procs);

  // gtm agent + gobgpd.
  const example = readFileSync(join(ROOT, 'examples', 'three-regions.yaml'), 'utf8');
  writeFileSync(
    join(dir, 'gtm.yaml'),
    `${example}
pops:
  bench:
    region: us-east
    bgp:
      asn: 65001
      router_id: 10.101.1.2
      listen_addresses: [10.101.1.2, 10.101.3.2]
      neighbors: [{ address: 10.101.1.1, asn: 65000 }, { address: 10.101.3.1, asn: 65010 }]
      next_hop: 10.101.1.2
      hold_down_ms: 0
    vips:
      - address: ${VIP.gtm.split('/')[0]}
        nodes: [{ name: lb1, address: 10.101.1.11 }, { name: lb2, address: 10.101.1.12 }]
        checks: [{ type: http, port: 8080, path: /healthz, timeout_ms: 1000 }]
        interval_ms: ${INTERVAL_MS}
        fast_interval_ms: ${FAST_MS}
        rise: ${RISE}
        fall: ${FALL}
`,
  );
  const agent = spawnIn(
    NS.gtm,
    process.execPath,
    [join(ROOT, 'bin', 'gtm.js'), 'agent', '--config', join(dir, 'gtm.yaml'), '--state-dir', join(dir, 'agent')],
    { stdio: 'ignore' },
  );
  procs.push(agent);

  // ExaBGP with its healthcheck, same interval, fast interval and thresholds; one node
  // check per node would need two processes, so its command checks both and fails only
  // when neither answers (the same cluster verdict as min_healthy: 1).
  const check = [11, 12].map((h) => `curl -sf --max-time 1 http://10.101.2.${h}:8080/healthz`).join(' || ');
  writeFileSync(
    join(dir, 'exabgp.conf'),
    `process healthcheck {
  run /usr/bin/python3 -m exabgp healthcheck --no-syslog --interval ${INTERVAL_MS / 1000} --fast-interval ${FAST_MS / 1000} --rise ${RISE} --fall ${FALL} --timeout 1 --ip ${VIP.exa} --next-hop 10.101.2.2 --no-ip-setup --withdraw-on-down --cmd "${check}";
  encoder text;
}
neighbor 10.101.2.1 {
  router-id 10.101.2.2;
  local-address 10.101.2.2;
  local-as 65002;
  peer-as 65000;
  api { processes [ healthcheck ]; }
}
`,
  );
  const exa = spawnIn(
    NS.exa,
    'env',
    [
      'exabgp_daemon_user=root',
      'exabgp_api_cli=false',
      'exabgp_log_destination=stderr',
      'exabgp_log_level=WARNING',
      '/usr/sbin/exabgp',
      join(dir, 'exabgp.conf'),
    ],
    { stdio: 'ignore' },
  );
  procs.push(exa);

  const present = async (which: 'gtm' | 'exa') => (await bird.routes(VIP[which])).some((r) => r.protocol === which);
  const atFrr = async () => (await frr.routes(VIP.gtm)).some((r) => r.protocol === 'gtm');
  await until(
    async () => (await present('gtm')) && (await present('exa')) && (await atFrr()),
    60_000,
    'both VIPs announced, and gtm at FRR',
  );

  const results: Record<'gtm' | 'exa' | 'frr', number[]> = { gtm: [], exa: [], frr: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const which of ['gtm', 'exa'] as const) {
      await new Promise((r) => setTimeout(r, 500 + Math.random() * INTERVAL_MS)); // random probe phase
      const t0 = performance.now();
      for (const p of lbs[which] ?? []) killPid(p.pid, 'SIGKILL');
      // FRR is read through vtysh (a process per read, ~10 ms): polled beside BIRD, not in turn.
      const frrGone =
        which === 'gtm'
          ? (async () => {
              while (await atFrr()) if (performance.now() - t0 > 10_000) throw new Error('FRR: never withdrawn');
              return performance.now() - t0;
            })()
          : undefined;
      // Poll the router's control socket as fast as it answers (sub-millisecond).
      while (await present(which)) {
        if (performance.now() - t0 > 10_000) throw new Error(`${which}: path never withdrawn`);
      }
      results[which].push(performance.now() - t0);
      if (frrGone) results.frr.push(await frrGone);
      await Promise.all((lbs[which] ?? []).map((p) => waitExit(p)));
      startLbs(which, which === 'gtm' ? 1 : 2);
      await until(
        async () => (await present(which)) && (which !== 'gtm' || (await atFrr())),
        20_000,
        `${which} re-announced`,
      );
    }
  }
  bird.close();

  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return {
      median: s[Math.floor(s.length / 2)] as number,
      min: s[0] as number,
      max: s[s.length - 1] as number,
      all: xs.map((x) => Math.round(x)),
    };
  };
  const g = stats(results.gtm);
  const e = stats(results.exa);
  const f = stats(results.frr);
  console.log(`LB cluster failure -> path gone at the upstream BIRD router (${ROUNDS} rounds each, interleaved)`);
  console.log(
    `settings: interval ${INTERVAL_MS} ms, fast interval ${FAST_MS} ms, fall ${FALL}, rise ${RISE}, HTTP checks of 2 LB nodes, cluster down when none answers\n`,
  );
  console.log(
    `gtm agent + gobgpd     median ${g.median.toFixed(1)} ms  min ${g.min.toFixed(1)}  max ${g.max.toFixed(1)}   [${g.all.join(', ')}]`,
  );
  console.log(
    `ExaBGP healthcheck     median ${e.median.toFixed(1)} ms  min ${e.min.toFixed(1)}  max ${e.max.toFixed(1)}   [${e.all.join(', ')}]`,
  );
  console.log(
    `gtm, seen at FRR 8.4   median ${f.median.toFixed(1)} ms  min ${f.min.toFixed(1)}  max ${f.max.toFixed(1)}   [${f.all.join(', ')}]  (the same withdrawals; vtysh polled, ~10 ms per read)`,
  );
  console.log(`ratio gtm / ExaBGP     ${(g.median / e.median).toFixed(2)}`);
  console.log(`FRR - BIRD (median)    ${(f.median - g.median).toFixed(1)} ms`);
  const budget = FALL * INTERVAL_MS + 50;
  console.log(
    `\ntarget: gone within ${budget} ms (${FALL} probes + 50 ms): ${g.max < budget ? 'MET (every round)' : g.median < budget ? 'MET at the median, not every round' : 'NOT MET'}`,
  );
  console.log(`target: faster than ExaBGP's healthcheck: ${g.median < e.median ? 'MET' : 'NOT MET'}`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
