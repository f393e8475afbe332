// The failover lab in network namespaces: an upstream BIRD router (ECMP, BFD), one PoP per
// region (gobgpd + agent + two LB nodes behind an LB frontend on the VIP + a BFD-only
// BIRD), the GeoDNS server and control plane, and clients standing for users in different
// countries. Everything it creates carries the `gtmlab-` prefix (GTM_LAB_PREFIX) or is
// recorded by PID in the lab directory, so `down` removes it all, even after a crash.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import { buildTestDatabases } from '../geodata/build-test-db.js';
import type { AgentStatus } from '../src/agent/index.js';
import { loadConfigFile, type Config } from '../src/config/index.js';
import { packageRoot } from '../src/runtime/index.js';
import { BirdClient, renderBfdOnlyConfig, renderBirdConfig } from './bird.js';
import { addAddress, addNs, delNs, execIn, fetchIn, ip, killPid, link } from './netns.js';

// Both can be overridden so a test lab never touches an operator's running lab.
export const PREFIX = process.env.GTM_LAB_PREFIX ?? 'gtmlab-';
if (!/^[a-z][a-z0-9-]{0,7}$/.test(PREFIX)) throw new Error(`GTM_LAB_PREFIX must be 1-8 lowercase letters, digits or dashes (got ${JSON.stringify(PREFIX)})`);
export const LAB_DIR = process.env.GTM_LAB_DIR ?? '/run/gtm-lab';
const ROOT = packageRoot();
const EXAMPLE_CONFIG = join(ROOT, 'examples', 'three-regions.yaml');
export const DNS_IP = '10.20.100.2';

/** The BFD-only BIRD beside PoP n's gobgpd: its config and control socket. */
const bfdHelper = (dir: string, n: number) => ({ conf: join(dir, 'bird', `bfd-p${n}.conf`), socket: join(dir, 'bird', `bfd-p${n}.ctl`) });

export interface LabClient {
  name: string;
  ns: string;
  subnet: string;
  address: string;
  where: string;
}

export interface LabPop {
  name: string;
  region: string;
  ns: string;
  n: number;
  vip: string;
}

export interface Lab {
  dir: string;
  config: string;
  token: string;
  pops: LabPop[];
  clients: LabClient[];
  birdSocket: string;
}

/** Users in three places; their subnets are located by the lab's geo database. */
export const CLIENTS: LabClient[] = [
  { name: 'gb', ns: `${PREFIX}c-gb`, subnet: '198.18.1.0/24', address: '198.18.1.2', where: 'London' },
  { name: 'us', ns: `${PREFIX}c-us`, subnet: '198.18.3.0/24', address: '198.18.3.2', where: 'New York' },
  { name: 'sg', ns: `${PREFIX}c-sg`, subnet: '198.18.4.0/24', address: '198.18.4.2', where: 'Singapore' },
];

function labOf(config: Config, dir: string, token: string): Lab {
  const pops = [...config.regions.values()].map((r, i) => ({ name: r.name, region: r.name, ns: `${PREFIX}p${i + 1}`, n: i + 1, vip: r.vip4 as string }));
  return { dir, config: join(dir, 'config.yaml'), token, pops, clients: CLIENTS, birdSocket: join(dir, 'bird', 'rtr.ctl') };
}

export function loadLab(dir = LAB_DIR): Lab {
  if (!existsSync(join(dir, 'config.yaml'))) throw new Error(`no lab in ${dir} (gtm lab up first)`);
  const token = readFileSync(join(dir, 'token'), 'utf8').trim();
  process.env.GTM_LAB_TOKEN = token;
  return labOf(loadConfigFile(join(dir, 'config.yaml')), dir, token);
}

/** The lab's config: the given one plus PoPs, shared state and lab addresses. */
function labConfig(base: string, dir: string, cityDb: string, etcd?: string): string {
  const parsed = parseDocument(readFileSync(base, 'utf8'));
  if (parsed.errors.length) throw new Error(`not valid YAML: ${parsed.errors[0]?.message}`);
  const doc = parsed.toJS() as Record<string, any> | null;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('must be a YAML mapping (zones, regions, services, ...)');
  doc.dns = { ...(doc.dns ?? {}), listen: `${DNS_IP}:53`, metrics: `${DNS_IP}:9153`, workers: 1 };
  doc.geo = { database: cityDb };
  doc.control = {
    // One machine: a file every namespace sees. Containers: etcd, as across machines.
    store: etcd ? { etcd: [etcd] } : { file: join(dir, 'state.json') },
    lease_ms: 1500,
    heartbeat_ms: 250,
    max_regions_out: 0.7,
    api: { listen: `${DNS_IP}:9190`, tokens: [{ name: 'lab', env: 'GTM_LAB_TOKEN' }], audit_log: join(dir, 'audit.jsonl') },
  };
  const regions = Object.keys(doc.regions ?? {});
  doc.pops = Object.fromEntries(
    regions.map((region, i) => {
      const n = i + 1;
      return [
        region,
        {
          region,
          api: '127.0.0.1:9180',
          maintenance_file: join(dir, `${region}.maintenance`),
          bgp: {
            asn: 65000 + n,
            router_id: `10.20.${n}.2`,
            listen_addresses: [`10.20.${n}.2`],
            neighbors: [{ address: `10.20.${n}.1`, asn: 65000 }],
            next_hop: `10.20.${n}.2`,
            med: 100,
            hold_down_ms: 1000,
            drain: { duration_ms: 3000, med: 1000 },
            // The BFD-only BIRD beside gobgpd: a cut link takes the PoP out of DNS in BFD time.
            bfd_socket: bfdHelper(dir, n).socket,
          },
          vips: [
            {
              address: 'vip',
              nodes: [{ name: 'lb1', address: `10.20.${n}.11` }, { name: 'lb2', address: `10.20.${n}.12` }],
              checks: [{ type: 'http', port: 8080, path: '/healthz', timeout_ms: 300 }],
              interval_ms: 100,
              fast_interval_ms: 50,
              rise: 2,
              fall: 3,
            },
          ],
        },
      ];
    }),
  );
  return stringify(doc);
}

function record(dir: string, name: string, pid: number | undefined): void {
  appendFileSync(join(dir, 'pids'), `${name} ${pid ?? -1}\n`);
}

/** Starts a long-running process in a namespace, detached, logging to the lab directory. */
function daemon(lab: Lab, name: string, ns: string, cmd: string, args: string[]): number {
  const log = openSync(join(lab.dir, 'logs', `${name}.log`), 'a');
  const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { detached: true, stdio: ['ignore', log, log] });
  p.unref();
  record(lab.dir, name, p.pid);
  return p.pid ?? -1;
}

export function pidOf(lab: Lab, name: string): number | undefined {
  const lines = existsSync(join(lab.dir, 'pids')) ? readFileSync(join(lab.dir, 'pids'), 'utf8').trim().split('\n') : [];
  const hit = lines.reverse().find((l) => l.split(' ')[0] === name);
  return hit ? Number(hit.split(' ')[1]) : undefined;
}

export function startLbNode(lab: Lab, pop: LabPop, node: 1 | 2): number {
  return daemon(lab, `${pop.name}-lb${node}`, pop.ns, process.execPath, [join(ROOT, 'dist', 'lab', 'lb-node.js'), `${pop.name}-lb${node}`, `10.20.${pop.n}.1${node}`, '8080']);
}

export function startAgent(lab: Lab, pop: LabPop): number {
  return daemon(lab, `${pop.name}-agent`, pop.ns, process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'agent', '--config', lab.config, '--pop', pop.name, '--state-dir', join(lab.dir, 'pops', pop.name)]);
}

/**
 * Writes everything the lab's processes read into DIR: config.yaml (the base config plus PoPs,
 * shared state and lab addresses), the geo database that places the clients, and the BIRD
 * configs of the router and of each PoP's BFD helper. `gtm lab up` uses it, and so do the
 * container images (`gtm lab render`), so both labs run the very same files.
 */
export function renderLab(dir: string, baseConfig = EXAMPLE_CONFIG, opts: { etcd?: string } = {}): Config {
  for (const d of ['logs', 'bird', 'pops']) mkdirSync(join(dir, d), { recursive: true });
  const { city } = buildTestDatabases(join(dir, 'geo'));
  writeFileSync(join(dir, 'config.yaml'), labConfig(baseConfig, dir, city, opts.etcd));
  // Validate it now. The API token comes from GTM_LAB_TOKEN at run time (containers get
  // theirs from compose); when rendering an image there is none yet, so check with a stand-in.
  const had = process.env.GTM_LAB_TOKEN;
  process.env.GTM_LAB_TOKEN ??= randomBytes(18).toString('hex');
  let config: Config;
  try {
    config = loadConfigFile(join(dir, 'config.yaml'));
  } finally {
    if (had === undefined) delete process.env.GTM_LAB_TOKEN;
  }
  const pops = labOf(config, dir, '').pops;
  writeFileSync(join(dir, 'bird', 'rtr.conf'), renderBirdConfig({ routerId: '10.20.0.1', asn: 65000, logFile: join(dir, 'logs', 'bird-rtr.log'), kernel: true, peers: pops.map((p) => ({ name: `p${p.n}`, neighbor: `10.20.${p.n}.2`, asn: 65000 + p.n, bfd: true })) }));
  for (const p of pops) writeFileSync(bfdHelper(dir, p.n).conf, renderBfdOnlyConfig({ routerId: `10.20.${p.n}.2`, neighbor: `10.20.${p.n}.1`, logFile: join(dir, 'logs', `bfd-${p.name}.log`) }));
  return config;
}

export async function up(baseConfig = EXAMPLE_CONFIG, log: (s: string) => void = console.log): Promise<Lab> {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces)');
  for (const tool of ['bird', 'gobgpd', 'kdig', 'curl']) {
    if (!['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(join(d, tool)))) throw new Error(`${tool} is missing: run bash scripts/setup.sh as root`);
  }
  if (ip('netns', 'list').split('\n').some((l) => l.startsWith(PREFIX))) throw new Error('a lab is already up: gtm lab down first');
  rmSync(LAB_DIR, { recursive: true, force: true });
  mkdirSync(LAB_DIR, { recursive: true });
  const token = randomBytes(18).toString('hex');
  writeFileSync(join(LAB_DIR, 'token'), `${token}\n`, { mode: 0o600 });
  // Every lab process loads the same config, whose control API token comes from here.
  process.env.GTM_LAB_TOKEN = token;
  let config: Config;
  try {
    config = renderLab(LAB_DIR, baseConfig);
  } catch (err) {
    // Nothing was started yet: leave nothing behind.
    rmSync(LAB_DIR, { recursive: true, force: true });
    throw new Error(`cannot build the lab from ${baseConfig}: ${(err as Error).message}`);
  }
  const lab = labOf(config, LAB_DIR, token);
  log(`lab directory ${LAB_DIR}`);

  // Topology.
  const rtr = `${PREFIX}rtr`;
  addNs(rtr);
  execIn(rtr, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  for (const p of lab.pops) {
    addNs(p.ns);
    link(rtr, `r-p${p.n}`, [`10.20.${p.n}.1/24`], p.ns, `p${p.n}-r`, [`10.20.${p.n}.2/24`]);
    ip('-n', p.ns, 'route', 'add', 'default', 'via', `10.20.${p.n}.1`);
    for (const a of [`10.20.${p.n}.11/32`, `10.20.${p.n}.12/32`, `${p.vip}/32`]) addAddress(p.ns, 'lo', a);
  }
  const dnsNs = `${PREFIX}dns`;
  addNs(dnsNs);
  link(rtr, 'r-dns', ['10.20.100.1/24'], dnsNs, 'dns-r', [`${DNS_IP}/24`]);
  ip('-n', dnsNs, 'route', 'add', 'default', 'via', '10.20.100.1');
  lab.clients.forEach((c, i) => {
    addNs(c.ns);
    const gw = c.address.replace(/\.2$/, '.1');
    link(rtr, `r-c${i + 1}`, [`${gw}/24`], c.ns, `c${i + 1}-r`, [`${c.address}/24`]);
    ip('-n', c.ns, 'route', 'add', 'default', 'via', gw);
  });
  log(`namespaces: ${[rtr, ...lab.pops.map((p) => p.ns), dnsNs, ...lab.clients.map((c) => c.ns)].join(' ')}`);

  // Upstream router.
  daemon(lab, 'bird-rtr', rtr, 'bird', ['-f', '-c', join(LAB_DIR, 'bird', 'rtr.conf'), '-s', lab.birdSocket]);

  // PoPs.
  for (const p of lab.pops) {
    startLbNode(lab, p, 1);
    startLbNode(lab, p, 2);
    daemon(lab, `${p.name}-frontend`, p.ns, process.execPath, [join(ROOT, 'dist', 'lab', 'lb-frontend.js'), p.vip, '80', `10.20.${p.n}.11:8080`, `10.20.${p.n}.12:8080`]);
    const bfd = bfdHelper(LAB_DIR, p.n);
    daemon(lab, `${p.name}-bfd`, p.ns, 'bird', ['-f', '-c', bfd.conf, '-s', bfd.socket]);
    startAgent(lab, p);
  }

  // GeoDNS and control plane (like every lab process, they inherit GTM_LAB_TOKEN).
  daemon(lab, 'dns', dnsNs, process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'dns', '--config', lab.config]);
  daemon(lab, 'control', dnsNs, process.execPath, [join(ROOT, 'bin', 'gtm.js'), 'control', '--config', lab.config]);

  // Ready when the router has every VIP and every client gets an answer.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await status(lab).catch(() => undefined);
    if (s && s.pops.every((p) => p.routerPaths > 0) && s.clients.every((c) => c.answer)) break;
    if (Date.now() > deadline) throw new Error(`the lab did not converge in 60 s; see ${join(LAB_DIR, 'logs')} (gtm lab down removes it)`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return lab;
}

export interface LabStatus {
  pops: { name: string; vip: string; agent: string; nodes: string; session: string; routerPaths: number; localPref?: number; serving: boolean }[];
  clients: { name: string; where: string; answer?: string; http: string }[];
}

export async function status(lab: Lab): Promise<LabStatus> {
  const bird = await BirdClient.connect(lab.birdSocket);
  try {
    const pops = [];
    for (const p of lab.pops) {
      let agent = 'unreachable';
      let nodes = '';
      let session = '-';
      let serving = false;
      try {
        const st = JSON.parse(fetchIn(p.ns, 'http://127.0.0.1:9180/status').body) as AgentStatus;
        agent = st.vips.map((v) => v.state).join('/');
        nodes = st.vips[0]?.nodes.map((n) => `${n.name}:${n.state}`).join(' ') ?? '';
        // As the agent sees its router: gobgpd's BGP state and the BFD helper's.
        const router = `10.20.${p.n}.1`;
        session = `${(st.bgp.sessions[router] ?? '-').toLowerCase()}/${(st.bgp.bfd?.[router] ?? '-').toLowerCase()}`;
        serving = st.serving;
      } catch {
        /* agent down */
      }
      const routes = (await bird.routes(`${p.vip}/32`)).filter((r) => r.protocol === `p${p.n}`);
      pops.push({ name: p.name, vip: p.vip, agent, nodes, session, routerPaths: routes.length, localPref: routes[0]?.localPref, serving });
    }
    const clients = lab.clients.map((c) => {
      let answer: string | undefined;
      let http = '';
      try {
        answer = execIn(c.ns, 'kdig', [`@${DNS_IP}`, '+short', '+time=1', '+retry=0', `+subnet=${c.subnet}`, 'www.example.test', 'A']).trim().split('\n').at(-1) || undefined;
        if (answer) http = execIn(c.ns, 'curl', ['-s', '--max-time', '1', `http://${answer}/`]).trim();
      } catch (err) {
        http = `error: ${(err as Error).message.split('\n')[0]}`;
      }
      return { name: c.name, where: c.where, answer, http };
    });
    return { pops, clients };
  } finally {
    bird.close();
  }
}

export function formatStatus(s: LabStatus): string {
  const lines = ['PoP            VIP             agent      LB nodes            BGP/BFD          router paths  serving'];
  for (const p of s.pops) {
    const router = `${p.routerPaths}${p.localPref !== undefined ? ` (lp ${p.localPref})` : ''}`;
    lines.push(`${p.name.padEnd(14)} ${p.vip.padEnd(15)} ${p.agent.padEnd(10)} ${p.nodes.padEnd(19)} ${p.session.padEnd(16)} ${router.padEnd(13)} ${p.serving ? 'yes' : 'no'}`);
  }
  lines.push('', 'client  where        DNS answer       HTTP');
  for (const c of s.clients) lines.push(`${c.name.padEnd(7)} ${c.where.padEnd(12)} ${(c.answer ?? '-').padEnd(16)} ${c.http}`);
  return lines.join('\n');
}

/** Removes everything the lab made: processes by recorded PID, namespaces by prefix. */
export async function down(log: (s: string) => void = console.log): Promise<void> {
  const pidsFile = join(LAB_DIR, 'pids');
  const pids = existsSync(pidsFile) ? readFileSync(pidsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1])) : [];
  for (const pid of pids) killPid(pid, 'SIGTERM');
  const end = Date.now() + 6000;
  const alive = () => pids.filter((p) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  });
  while (alive().length && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  for (const pid of alive()) killPid(pid, 'SIGKILL');
  const namespaces = ip('netns', 'list').split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(PREFIX));
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
  log(`lab down: stopped ${pids.length} processes${strays ? ` and ${strays} strays` : ''}, removed ${namespaces.length} namespaces`);
}
