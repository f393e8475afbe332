// The failover lab in network namespaces: an upstream BIRD router (ECMP, BFD), one PoP per
// region (gobgpd + agent + two LB nodes behind an LB frontend on the VIP + a BFD-only
// BIRD), the GeoDNS server and control plane, and clients standing for users in different
// countries. Everything it creates carries the `gtmlab-` prefix (GTM_LAB_PREFIX) or is
// recorded by PID in the lab directory, so `down` removes it all, even after a crash.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hashToken, newToken } from '../src/auth/index.js';
import { type Config } from '../src/config/index.js';
import { addAddress, addNs, delNs, execIn, fetchIn, ip, killPid, link } from './netns.js';
import {
  PREFIX,
  LAB_DIR,
  ROOT,
  EXAMPLE_CONFIG,
  DNS_IP,
  DNS2_NS,
  ALERT_HOOK,
  alertsFile,
  bfdHelper,
  type Lab,
  type LabEngine,
  labOf,
  composeFile,
} from './model.js';
import { daemon, forwardFromHost, startLbNode, startAgent, supervised } from './processes.js';
import { composeDown, composeUp } from './compose.js';
import { renderLab, renderSecondDns } from './render.js';
import { handToFrr, startFrrDaemons, renderFrrBgpd, writeFrrBaseConfigs } from './frr.js';
import { frrDir } from './router.js';
import { formatStatus, status } from './status.js';
import { PLAN, clientGateway } from './address-plan.js';
import { PROBE_METRICS_PORT, PROMETHEUS, labTargets, prometheusAvailable, startPrometheus } from './prometheus.js';

export * from './model.js';
export { signalProcesses, signalInPop, startLbNode, waitRestarted } from './procs.js';
export { renderLab } from './render.js';
export { PROMETHEUS, labTargets, queryPrometheus } from './prometheus.js';
export { formatStatus, status, type LabStatus } from './status.js';

export async function up(
  baseConfig = EXAMPLE_CONFIG,
  log: (s: string) => void = console.log,
  opts: {
    router?: Lab['router'];
    engine?: LabEngine;
    /** The namespace lab's shared store: a state file (default), or etcd in the DNS node (the soak). */
    store?: 'file' | 'etcd';
    /** The DNS server's clock is shifted by the milliseconds in this file (lab/clock-skew.ts; the soak). */
    clockFile?: string;
    /** Start the lab's Prometheus (namespace lab; default: when Debian's prometheus is installed). */
    prometheus?: boolean;
  } = {},
): Promise<Lab> {
  const router = opts.router ?? 'bird';
  const engine = opts.engine ?? 'netns';
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces)');
  if (engine === 'compose' && router !== 'bird') throw new Error('the compose lab runs BIRD as its router');
  // The host runs kdig, curl and the drills' clients in the lab's namespaces on either engine.
  const tools = engine === 'compose' ? ['kdig', 'curl'] : ['bird', 'gobgpd', 'kdig', 'curl'];
  for (const tool of [...tools, ...(router === 'frr' ? ['vtysh'] : [])]) {
    if (!['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(join(d, tool))))
      throw new Error(`${tool} is missing: run bash scripts/setup.sh as root`);
  }
  if (
    ip('netns', 'list')
      .split('\n')
      .some((l) => l.startsWith(PREFIX))
  )
    throw new Error('a lab is already up: gtm lab down first');
  rmSync(LAB_DIR, { recursive: true, force: true });
  mkdirSync(LAB_DIR, { recursive: true });
  // The operator's token is in a root-only file; the config holds only its hash, so no lab
  // process needs the secret in its environment.
  const token = newToken();
  writeFileSync(join(LAB_DIR, 'token'), `${token}\n`, { mode: 0o600 });
  let config: Config;
  try {
    // Containers share state through etcd, as machines would; one host shares a file.
    const etcd =
      engine === 'compose' ? `http://${PLAN.etcd}:2379` : opts.store === 'etcd' ? `http://${DNS_IP}:2379` : undefined;
    config = renderLab(LAB_DIR, baseConfig, { tokenSha256: hashToken(token), etcd });
  } catch (err) {
    // Nothing was started yet: leave nothing behind.
    rmSync(LAB_DIR, { recursive: true, force: true });
    throw new Error(`cannot build the lab from ${baseConfig}: ${(err as Error).message}`);
  }
  let lab = labOf(config, LAB_DIR, token, router);
  writeFileSync(join(LAB_DIR, 'router'), `${router}\n`);
  log(`lab directory ${LAB_DIR}`);
  if (engine === 'compose') {
    lab = await composeUp(config, lab, log);
    await converged(lab);
    return lab;
  }

  // Topology.
  const rtr = `${PREFIX}rtr`;
  addNs(rtr);
  execIn(rtr, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  for (const p of lab.pops) {
    addNs(p.ns);
    link(rtr, `r-p${p.n}`, [`${PLAN.routerOn(p.n)}/24`], p.ns, `p${p.n}-r`, [`${PLAN.pop(p.n)}/24`]);
    ip('-n', p.ns, 'route', 'add', 'default', 'via', PLAN.routerOn(p.n));
    for (const a of [`${PLAN.lbNode(p.n, 1)}/32`, `${PLAN.lbNode(p.n, 2)}/32`, `${p.vip}/32`, `${PLAN.anycast}/32`])
      addAddress(p.ns, 'lo', a);
  }
  const dnsNs = `${PREFIX}dns`;
  addNs(dnsNs);
  link(rtr, 'r-dns', [`${PLAN.routerOnDns}/24`], dnsNs, 'dns-r', [`${DNS_IP}/24`]);
  ip('-n', dnsNs, 'route', 'add', 'default', 'via', PLAN.routerOnDns);
  // With etcd, a second DNS node on a link of its own: the etcd-partition drill cuts it from etcd.
  if (opts.store === 'etcd') {
    addNs(DNS2_NS);
    link(rtr, 'r-dns2', [`${PLAN.routerOnDns2}/24`], DNS2_NS, 'dns2-r', [`${PLAN.dns2}/24`]);
    ip('-n', DNS2_NS, 'route', 'add', 'default', 'via', PLAN.routerOnDns2);
  }
  lab.clients.forEach((c, i) => {
    addNs(c.ns);
    const gw = clientGateway(c);
    link(rtr, `r-c${i + 1}`, [`${gw}/24`], c.ns, `c${i + 1}-r`, [`${c.address}/24`]);
    ip('-n', c.ns, 'route', 'add', 'default', 'via', gw);
  });
  log(`namespaces: ${[rtr, ...lab.pops.map((p) => p.ns), dnsNs, ...lab.clients.map((c) => c.ns)].join(' ')}`);

  // Upstream router: BIRD, or FRR (zebra, bgpd, bfdd) from the lab directory, never as a service.
  if (router === 'bird')
    daemon(lab, 'bird-rtr', rtr, 'bird', ['-f', '-c', join(LAB_DIR, 'bird', 'rtr.conf'), '-s', lab.birdSocket]);
  else {
    const dir = frrDir(lab);
    mkdirSync(dir, { recursive: true });
    writeFrrBaseConfigs(dir, { intervalMs: 100, multiplier: 3 });
    writeFileSync(
      join(dir, 'bgpd.conf'),
      renderFrrBgpd({
        routerId: PLAN.routerId,
        asn: PLAN.routerAsn,
        logFile: join(dir, 'bgpd.log'),
        bfd: true,
        peers: lab.pops.map((p) => ({
          name: `p${p.n}`,
          neighbor: PLAN.pop(p.n),
          asn: PLAN.popAsn(p.n),
          prefixes: [`${p.vip}/32`, `${PLAN.anycast}/32`],
        })),
      }),
    );
    handToFrr(dir);
    await startFrrDaemons(dir, { bfd: true }, (d) => daemon(lab, `frr-${d.name}`, rtr, d.cmd, d.args));
  }

  if (opts.store === 'etcd') await startLabEtcd(lab, dnsNs);

  // PoPs.
  for (const p of lab.pops) {
    startLbNode(lab, p, 1);
    startLbNode(lab, p, 2);
    // One frontend on the region's VIP, one on the shared anycast VIP, both to the same nodes.
    for (const [suffix, vip] of [
      ['', p.vip],
      ['-anycast', PLAN.anycast],
    ] as const)
      daemon(lab, `${p.name}-frontend${suffix}`, p.ns, process.execPath, [
        join(ROOT, 'dist', 'lab', 'lb-frontend.js'),
        vip,
        '80',
        `${PLAN.lbNode(p.n, 1)}:8080`,
        `${PLAN.lbNode(p.n, 2)}:8080`,
      ]);
    const bfd = bfdHelper(LAB_DIR, p.n);
    daemon(lab, `${p.name}-bfd`, p.ns, 'bird', ['-f', '-c', bfd.conf, '-s', bfd.socket]);
    startAgent(lab, p);
  }

  // GeoDNS and control plane, and the webhook the control plane sends alerts to.
  daemon(lab, 'alert-receiver', dnsNs, process.execPath, [
    join(ROOT, 'dist', 'lab', 'alert-receiver.js'),
    ALERT_HOOK.host,
    String(ALERT_HOOK.port),
    alertsFile(LAB_DIR),
  ]);
  // The product's own processes run under the restart policy the systemd units ship.
  const skew = opts.clockFile ? ['--import', pathToFileURL(join(ROOT, 'dist', 'lab', 'clock-skew.js')).href] : [];
  if (opts.clockFile) process.env.GTM_LAB_CLOCK_FILE = opts.clockFile;
  supervised(lab, 'dns', dnsNs, process.execPath, [
    ...skew,
    join(ROOT, 'bin', 'gtm.js'),
    'dns',
    '--config',
    lab.config,
  ]);
  supervised(lab, 'control', dnsNs, process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'control', '--config', lab.config]);
  if (opts.store === 'etcd')
    supervised(lab, 'dns2', DNS2_NS, process.execPath, [
      join(ROOT, 'bin', 'gtm.js'),
      'dns',
      '--config',
      renderSecondDns(LAB_DIR),
    ]);

  // Vantage points where the users are: each client namespace checks every region from outside.
  for (const c of lab.clients)
    supervised(lab, `probe-${c.name}`, c.ns, process.execPath, [
      join(ROOT, 'bin', 'gtm.js'),
      'probe',
      '--config',
      lab.config,
      '--name',
      c.name,
      '--metrics',
      `${c.address}:${PROBE_METRICS_PORT}`,
    ]);

  if (opts.prometheus !== false) {
    if (prometheusAvailable()) {
      await startPrometheus(lab, dnsNs);
      log(
        `prometheus: http://${PROMETHEUS.host}:${PROMETHEUS.port} in ${dnsNs}, scraping ${labTargets(lab).length} targets`,
      );
    } else log('prometheus: not installed (bash scripts/setup.sh installs it); the lab runs without it');
  }

  // A browser on the host reaches the console (and Prometheus) through relays into the DNS node.
  const { forwarded, busy } = await forwardFromHost(lab, dnsNs, [
    { hostPort: Number(process.env.GTM_LAB_CONSOLE_PORT ?? 9190), target: '127.0.0.1:9190' },
    ...(opts.prometheus !== false && prometheusAvailable()
      ? [
          {
            hostPort: Number(process.env.GTM_LAB_PROMETHEUS_PORT ?? 9090),
            target: `${PROMETHEUS.host}:${PROMETHEUS.port}`,
          },
        ]
      : []),
  ]);
  for (const f of forwarded) log(`from the host: http://127.0.0.1:${f.hostPort}/ -> ${f.target} in ${dnsNs}`);
  for (const b of busy) log(`host port ${b.hostPort} is taken: ${b.target} in ${dnsNs} is not forwarded`);

  await converged(lab);
  return lab;
}

/** etcd in the DNS node, on the DNS address (agents reach it through the router), as across machines. */
async function startLabEtcd(lab: Lab, ns: string): Promise<void> {
  const url = `http://${DNS_IP}:2379`;
  daemon(lab, 'etcd', ns, 'etcd', [
    '--name',
    'lab',
    '--data-dir',
    join(lab.dir, 'etcd'),
    '--listen-client-urls',
    url,
    '--advertise-client-urls',
    url,
    '--listen-peer-urls',
    'http://127.0.0.1:2380',
    '--initial-advertise-peer-urls',
    'http://127.0.0.1:2380',
    '--initial-cluster',
    'lab=http://127.0.0.1:2380',
    '--log-level',
    'error',
  ]);
  const end = Date.now() + 20_000;
  const healthy = () => {
    try {
      return /"health":"true"/.test(fetchIn(ns, `${url}/health`).body);
    } catch {
      return false; // not listening yet
    }
  };
  while (!healthy()) {
    if (Date.now() > end) throw new Error(`etcd did not start; see ${join(lab.dir, 'logs', 'etcd.log')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Ready when `gtm lab status` shows it ready: every agent serving (session trusted, which can
 * follow the router's path by a BFD round on a busy machine) with its path at the router, and
 * every client answered and served over HTTP.
 */
async function converged(lab: Lab): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const s = await status(lab).catch(() => undefined);
    const ready =
      s?.pops.every((p) => p.routerPaths > 0 && p.serving) &&
      s.clients.every((c) => c.answer && c.http.startsWith('served by'));
    if (ready) return;
    if (Date.now() > deadline)
      throw new Error(
        `the lab did not converge in 90 s:\n${s ? formatStatus(s) : 'no status'}\nsee ${join(lab.dir, 'logs')} (gtm lab down removes it)`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function down(log: (s: string) => void = console.log): Promise<void> {
  if (existsSync(composeFile(LAB_DIR))) {
    const token = existsSync(join(LAB_DIR, 'token')) ? readFileSync(join(LAB_DIR, 'token'), 'utf8').trim() : '';
    await composeDown({ dir: LAB_DIR, token }, JSON.parse(readFileSync(composeFile(LAB_DIR), 'utf8')), log);
    return;
  }
  const pidsFile = join(LAB_DIR, 'pids');
  // The last PID recorded under each name: a supervised process restarted by its supervisor is
  // recorded again, and its earlier PIDs are gone (and may belong to someone else by now).
  const latest = new Map<string, number>();
  if (existsSync(pidsFile))
    for (const l of readFileSync(pidsFile, 'utf8').trim().split('\n').filter(Boolean))
      latest.set(l.split(' ')[0] ?? '', Number(l.split(' ')[1]));
  const pids = [...latest.values()];
  for (const pid of pids) killPid(pid, 'SIGTERM');
  const end = Date.now() + 6000;
  const alive = () =>
    pids.filter((p) => {
      try {
        process.kill(p, 0);
        return true;
      } catch {
        return false;
      }
    });
  while (alive().length && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  for (const pid of alive()) killPid(pid, 'SIGKILL');
  const namespaces = ip('netns', 'list')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(PREFIX));
  // Anything still running inside the lab's own namespaces was started by the lab (a gobgpd
  // whose agent died, a process whose PID was never recorded because `up` crashed).
  let strays = 0;
  for (const ns of namespaces) {
    for (const pid of ip('netns', 'pids', ns).split('\n').filter(Boolean)) {
      killPid(Number(pid), 'SIGKILL');
      strays++;
    }
  }
  for (const ns of namespaces) delNs(ns);
  rmSync(LAB_DIR, { recursive: true, force: true });
  log(
    `lab down: stopped ${pids.length} processes${strays ? ` and ${strays} strays` : ''}, removed ${namespaces.length} namespaces`,
  );
}
