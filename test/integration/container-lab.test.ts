// The container labs (docker-compose.yml, lab/containerlab/gtm.clab.yml, lab/docker/*) are
// checked without a container engine, which this machine does not run:
//  1. Debian's docker-compose validates the compose file;
//  2. both files must describe the same roles and address plan as the example config and
//     the namespace lab (`gtm lab up`);
//  3. the containerlab topology is brought up with network namespaces standing in for its
//     containers, each running lab/docker/entry.sh exactly as the image would, and must
//     steer a client and fail it over.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PLAN } from '../../lab/address-plan.js';
import { CLIENTS, DNS_IP, renderLab } from '../../lab/lab.js';
import { addNs, delNs, execIn, ip, killPid, link, spawnIn } from '../../lab/netns.js';
import { loadConfigFile } from '../../src/config/index.js';
import { EXAMPLE, ROOT, tempDir } from '../helpers/dns.js';

const TOKEN = 'lab-token-0123456789abcdef';
// merge: the compose file shares settings through a `<<: *gtm` merge key.
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      command?: string[];
      network_mode?: string;
      networks?: Record<string, { ipv4_address: string }>;
      build?: { dockerfile: string };
      image: string;
    }
  >;
  networks: Record<string, { internal?: boolean; ipam: { config: { subnet: string; gateway: string }[] } }>;
};
const clab = parse(readFileSync(join(ROOT, 'lab', 'containerlab', 'gtm.clab.yml'), 'utf8')) as {
  name: string;
  topology: {
    defaults: { kind: string; image: string };
    nodes: Record<string, { cmd: string; env?: { LAB_LINKS?: string }; 'network-mode'?: string }>;
    links: { endpoints: [string, string] }[];
  };
};
const dockerfile = readFileSync(join(ROOT, 'lab', 'docker', 'Dockerfile'), 'utf8');
const entry = readFileSync(join(ROOT, 'lab', 'docker', 'entry.sh'), 'utf8');

/** What the example config and the namespace lab say each role runs and which address it binds. */
function expectedPlan(): Record<string, { cmd: string; needs: string[] }> {
  process.env.GTM_LAB_TOKEN ??= TOKEN;
  const regions = [...loadConfigFile(EXAMPLE).regions.values()];
  const plan: Record<string, { cmd: string; needs: string[] }> = {
    router: {
      cmd: 'router',
      needs: [
        ...regions.map((_, i) => PLAN.routerOn(i + 1)),
        PLAN.routerOnDns,
        ...CLIENTS.map((c) => c.address.replace(/\.2$/, '.1')),
      ],
    },
    dns: { cmd: 'dns', needs: [DNS_IP] },
    control: { cmd: 'control', needs: [DNS_IP] },
    etcd: { cmd: 'etcd', needs: [PLAN.etcd] },
  };
  regions.forEach((r, i) => (plan[r.name] = { cmd: `pop ${r.name} ${i + 1} ${r.vip4}`, needs: [PLAN.pop(i + 1)] }));
  for (const c of CLIENTS)
    plan[`c-${c.name}`] = { cmd: `client ${c.address.replace(/\.2$/, '.1')}`, needs: [c.address] };
  return plan;
}

/** Addresses each compose service has, following network_mode: service:X. */
function composeAddresses(name: string): string[] {
  const s = compose.services[name];
  if (!s) return [];
  if (s.network_mode?.startsWith('service:')) return composeAddresses(s.network_mode.slice(8));
  return Object.values(s.networks ?? {}).map((n) => n.ipv4_address);
}

function clabLinks(name: string): { ifname: string; addr: string }[] {
  const node = clab.topology.nodes[name];
  return (node?.env?.LAB_LINKS ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((p) => ({ ifname: p.split('=')[0] as string, addr: p.split('=')[1] as string }));
}

function clabAddresses(name: string): string[] {
  const mode = clab.topology.nodes[name]?.['network-mode'];
  if (mode?.startsWith('container:')) return clabAddresses(mode.slice(10));
  return clabLinks(name).map((l) => l.addr.split('/')[0] as string);
}

describe('container lab files (static)', () => {
  it("Debian's docker-compose accepts docker-compose.yml, and refuses to run without a token", () => {
    const ok = spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config', '-q'], {
      env: { ...process.env, GTM_LAB_TOKEN: TOKEN },
      encoding: 'utf8',
    });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const env = { ...process.env };
    delete env.GTM_LAB_TOKEN;
    const bad = spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config', '-q'], {
      env,
      encoding: 'utf8',
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('set GTM_LAB_TOKEN');
  });

  it('docker-compose, containerlab and the example config agree on roles and addresses', () => {
    const plan = expectedPlan();
    expect(Object.keys(compose.services).sort()).toEqual(Object.keys(plan).sort());
    expect(Object.keys(clab.topology.nodes).sort()).toEqual(Object.keys(plan).sort());
    for (const [name, want] of Object.entries(plan)) {
      expect((compose.services[name]?.command ?? []).join(' '), `compose ${name}`).toBe(want.cmd);
      expect(clab.topology.nodes[name]?.cmd, `containerlab ${name}`).toBe(want.cmd);
      expect(composeAddresses(name), `compose ${name}`).toEqual(expect.arrayContaining(want.needs));
      expect(clabAddresses(name), `containerlab ${name}`).toEqual(expect.arrayContaining(want.needs));
    }
    // Every lab network is internal, with Docker's gateway off the addresses the lab uses.
    for (const [name, n] of Object.entries(compose.networks)) {
      expect(n.internal, name).toBe(true);
      expect(n.ipam.config[0]?.gateway, name).toMatch(/\.254$/);
    }
  });

  it('containerlab links join defined nodes, once per interface, on matching /24s', () => {
    const used = new Set<string>();
    for (const { endpoints } of clab.topology.links) {
      const [a, b] = endpoints.map((e) => ({ node: e.split(':')[0] as string, ifname: e.split(':')[1] as string }));
      for (const e of [a, b]) {
        expect(clab.topology.nodes[e!.node], e!.node).toBeDefined();
        expect(used.has(`${e!.node}:${e!.ifname}`), `${e!.node}:${e!.ifname} used twice`).toBe(false);
        used.add(`${e!.node}:${e!.ifname}`);
      }
      const net = (e: { node: string; ifname: string }) =>
        clabLinks(e.node)
          .find((l) => l.ifname === e.ifname)
          ?.addr.split('.')
          .slice(0, 3)
          .join('.');
      expect(net(a!), endpoints.join(' - ')).toBeDefined();
      expect(net(a!), endpoints.join(' - ')).toBe(net(b!));
    }
    // Every addressed interface has a link.
    for (const name of Object.keys(clab.topology.nodes))
      for (const l of clabLinks(name)) expect(used.has(`${name}:${l.ifname}`), `${name}:${l.ifname}`).toBe(true);
  });

  it('the image is built on Debian packages and renders the lab with the etcd the files name', () => {
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim/m);
    for (const pkg of ['gobgpd', 'golang-github-osrg-gobgp-dev', 'bird2', 'etcd-server'])
      expect(dockerfile).toContain(pkg);
    expect(dockerfile).toContain(`lab render --dir /var/lib/gtm-lab --etcd http://${PLAN.etcd}:2379`);
    for (const f of ['router', 'pop', 'dns', 'control', 'etcd', 'client'])
      expect(entry).toMatch(new RegExp(`^  ${f}\\)$`, 'm'));
    expect(spawnSync('sh', ['-n', join(ROOT, 'lab', 'docker', 'entry.sh')]).status).toBe(0);
    for (const s of Object.values(compose.services))
      expect(s.build?.dockerfile ?? 'lab/docker/Dockerfile').toBe('lab/docker/Dockerfile');
    expect(clab.topology.defaults.image).toBe(compose.services.router?.image);
  });
});

// ---- the containerlab topology, with namespaces for containers ----------------------------

const ID = `gc${process.pid % 10000}`;
const nsOf = (node: string) => `${ID}-${node}`;
const made: string[] = [];
const procs: ChildProcess[] = [];
const files = tempDir('gtm-clab-');

afterAll(async () => {
  for (const p of procs) killPid(p.pid, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  // What an entry script started in the background (LB nodes, the BFD helper) dies with its
  // "container": every process in a namespace this test made.
  for (const ns of made) {
    for (const pid of ip('netns', 'pids', ns).split('\n').filter(Boolean)) killPid(Number(pid), 'SIGKILL');
    delNs(ns);
  }
}, 30_000);

describe('containerlab topology run with namespaces for containers', () => {
  const kdig = (client: string, subnet: string) => {
    try {
      return execIn(nsOf(client), 'kdig', [
        `@${DNS_IP}`,
        '+short',
        '+time=1',
        '+retry=0',
        `+subnet=${subnet}`,
        'www.example.test',
        'A',
      ])
        .trim()
        .split('\n')
        .at(-1);
    } catch {
      return undefined; // not answering yet
    }
  };
  const curl = (client: string, addr: string) =>
    spawnSync('ip', ['netns', 'exec', nsOf(client), 'curl', '-s', '--max-time', '1', `http://${addr}/`], {
      encoding: 'utf8',
    }).stdout.trim();
  const until = async (what: string, ok: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; logs in ${files}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  it('steers each client to its region, and fails a killed PoP over', async () => {
    process.env.GTM_LAB_TOKEN ??= TOKEN;
    renderLab(files, undefined, { etcd: `http://${PLAN.etcd}:2379` });
    const nodes = clab.topology.nodes;
    for (const [name, node] of Object.entries(nodes)) {
      if (node['network-mode']) continue;
      addNs(nsOf(name));
      made.push(nsOf(name));
    }
    for (const { endpoints } of clab.topology.links) {
      const [a, b] = endpoints.map((e) => e.split(':') as [string, string]);
      link(nsOf(a![0]), a![1], [], nsOf(b![0]), b![1], []);
    }
    // Start order as containerlab's: nodes sharing a namespace after its owner.
    const order = Object.keys(nodes).sort(
      (x, y) => Number(!!nodes[x]!['network-mode']) - Number(!!nodes[y]!['network-mode']),
    );
    for (const name of order) {
      const node = nodes[name]!;
      const ns = nsOf(node['network-mode']?.slice(10) ?? name);
      const env = {
        ...process.env,
        LAB_LINKS: node.env?.LAB_LINKS ?? '',
        GTM_LAB_FILES: files,
        GTM_APP: ROOT,
        GTM_LAB_TOKEN: process.env.GTM_LAB_TOKEN,
        GTM_ETCD_DIR: join(files, 'etcd'),
      };
      // Each node's output in the lab files (the failure message points there).
      const out = openSync(join(files, 'logs', `${name}.out`), 'a');
      const p = spawnIn(ns, 'sh', [join(ROOT, 'lab', 'docker', 'entry.sh'), ...node.cmd.split(' ')], {
        env,
        stdio: ['ignore', out, 'pipe'],
      });
      let err = '';
      p.stderr?.on('data', (d) => (err += d));
      p.on('exit', (code) => code && console.log(`${name} exited ${code}: ${err.slice(-500)}`));
      procs.push(p);
    }
    const sub = Object.fromEntries(CLIENTS.map((c) => [c.name, c.subnet]));
    await until(
      'the New York client answered us-east and served',
      () =>
        kdig('c-us', sub.us as string) === '198.51.100.10' &&
        curl('c-us', '198.51.100.10').startsWith('served by us-east'),
      60_000,
    );
    await until('the London client answered eu-west', () => kdig('c-gb', sub.gb as string) === '198.51.100.20', 10_000);
    expect(curl('c-gb', '198.51.100.20')).toMatch(/^served by eu-west/);
    // Each PoP's agent reports on its own schedule, and each DNS worker takes the state in turn:
    // wait for Singapore's region as for London's (asserting at once failed once in CI).
    await until(
      'the Singapore client answered ap-southeast',
      () => kdig('c-sg', sub.sg as string) === '198.51.100.30',
      10_000,
    );

    // `docker compose kill us-east`: every process of the PoP's container dies at once.
    const t0 = Date.now();
    for (const pid of ip('netns', 'pids', nsOf('us-east')).split('\n').filter(Boolean)) killPid(Number(pid), 'SIGKILL');
    await until(
      'the New York client answered another region',
      () => kdig('c-us', sub.us as string) === '198.51.100.20',
      10_000,
    );
    console.log(
      `container lab: us-east killed -> New York client answered eu-west after ${Date.now() - t0} ms (shared state through etcd)`,
    );
    expect(curl('c-us', '198.51.100.20')).toMatch(/^served by eu-west/);
  }, 120_000);
});
