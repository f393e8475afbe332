// The container labs' files (docker-compose.yml, lab/containerlab/gtm.clab.yml, lab/docker/*)
// without an engine (the compose lab runs for real in test/drills/lab-drills-compose.test.ts):
//  1. both are rendered from lab/address-plan.ts (the committed files equal the rendering), and
//     every address any lab renders is in a documentation or benchmarking range;
//  2. Debian's docker-compose validates the compose file;
//  3. the containerlab topology (containerlab is not packaged here) is brought up with network
//     namespaces standing in for its containers, each running lab/docker/entry.sh exactly as the
//     image would, and must steer a client and fail it over.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DOCUMENTATION_RANGES, PLAN } from '../../lab/address-plan.js';
import {
  CONTAINER_FILES,
  containerRoles,
  exampleRegions,
  renderCompose,
  renderContainerlab,
} from '../../lab/containers.js';
import { renderFrrBgpd } from '../../lab/frr.js';
import { CLIENTS, DNS_IP, renderLab } from '../../lab/lab.js';
import { addNs, delNs, execIn, ip, killPid, link, spawnIn } from '../../lab/netns.js';
import { parseCidr } from '../../src/net/index.js';
import { ROOT, tempDir } from '../helpers/dns.js';

const TOKEN = 'lab-token-0123456789abcdef';
const clab = parse(readFileSync(CONTAINER_FILES.containerlab, 'utf8')) as {
  name: string;
  topology: {
    defaults: { kind: string; image: string };
    nodes: Record<string, { cmd: string; env?: { LAB_LINKS?: string }; 'network-mode'?: string }>;
    links: { endpoints: [string, string] }[];
  };
};

function clabLinks(name: string): { ifname: string; addr: string }[] {
  const node = clab.topology.nodes[name];
  return (node?.env?.LAB_LINKS ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((p) => ({ ifname: p.split('=')[0] as string, addr: p.split('=')[1] as string }));
}

/** Is an IPv4 or IPv6 literal inside one of the ranges? */
function inRanges(addr: string, ranges: readonly string[]): boolean {
  const a = parseCidr(`${addr}/${addr.includes(':') ? 128 : 32}`);
  return ranges.some((r) => {
    const n = parseCidr(r);
    if (!a || !n || a.bytes.length !== n.bytes.length) return false;
    for (let bit = 0; bit < n.prefix; bit++) {
      const mask = 0x80 >> (bit % 8);
      if (((a.bytes[bit >> 3] as number) & mask) !== ((n.bytes[bit >> 3] as number) & mask)) return false;
    }
    return true;
  });
}

describe('container lab files (static)', () => {
  it('docker-compose.yml and the containerlab topology are what lab/address-plan.ts renders', () => {
    const regions = exampleRegions();
    expect(readFileSync(CONTAINER_FILES.compose, 'utf8')).toBe(renderCompose(regions));
    expect(readFileSync(CONTAINER_FILES.containerlab, 'utf8')).toBe(renderContainerlab(regions));
    // Both run every role, with the same commands.
    const compose = parse(readFileSync(CONTAINER_FILES.compose, 'utf8'), { merge: true }) as {
      services: Record<string, { command: string[] }>;
    };
    for (const role of containerRoles(regions)) {
      expect(compose.services[role.name]?.command, role.name).toEqual(role.cmd);
      expect(clab.topology.nodes[role.name]?.cmd, role.name).toBe(role.cmd.join(' '));
    }
  });

  it('every address a lab renders is in a documentation or benchmarking range, none private', () => {
    process.env.GTM_LAB_TOKEN ??= TOKEN;
    const dir = tempDir('gtm-plan-');
    renderLab(dir, undefined, { etcd: `http://${PLAN.etcd}:2379` });
    const rendered = [
      readFileSync(CONTAINER_FILES.compose, 'utf8'),
      readFileSync(CONTAINER_FILES.containerlab, 'utf8'),
      readFileSync(join(dir, 'config.yaml'), 'utf8'),
      readFileSync(join(dir, 'addresses.env'), 'utf8'),
      ...readdirSync(join(dir, 'bird')).map((f) => readFileSync(join(dir, 'bird', f), 'utf8')),
      renderFrrBgpd({
        routerId: PLAN.routerId,
        asn: PLAN.routerAsn,
        logFile: '/x',
        bfd: true,
        peers: [{ name: 'p1', neighbor: PLAN.pop(1), asn: PLAN.popAsn(1), prefixes: [`${PLAN.anycast}/32`] }],
      }),
    ].join('\n');
    const v4 = [...rendered.matchAll(/(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])/g)].map((m) => m[1] as string);
    expect(v4.length).toBeGreaterThan(50);
    const allowed = [...DOCUMENTATION_RANGES, '127.0.0.0/8', '0.0.0.0/32'];
    expect(v4.filter((a) => !inRanges(a, allowed))).toEqual([]);
    expect(v4.filter((a) => inRanges(a, ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']))).toEqual([]);
  });

  it("Debian's docker-compose accepts docker-compose.yml, and refuses to run without a token", () => {
    const ok = spawnSync('docker-compose', ['-f', CONTAINER_FILES.compose, 'config', '-q'], {
      env: { ...process.env, GTM_LAB_TOKEN: TOKEN },
      encoding: 'utf8',
    });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const env = { ...process.env };
    delete env.GTM_LAB_TOKEN;
    const bad = spawnSync('docker-compose', ['-f', CONTAINER_FILES.compose, 'config', '-q'], { env, encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('set GTM_LAB_TOKEN');
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

  it('the images are built from Debian packages with no registry, and render the lab with its etcd', () => {
    const deps = readFileSync(join(ROOT, 'lab', 'docker', 'Dockerfile.deps'), 'utf8');
    const app = readFileSync(join(ROOT, 'lab', 'docker', 'Dockerfile'), 'utf8');
    const build = readFileSync(join(ROOT, 'lab', 'docker', 'build-images.sh'), 'utf8');
    // Every FROM names an image this project builds (a debootstrap import or its own layer).
    for (const text of [deps, app])
      expect(text.match(/^FROM .*/gm)).toEqual([expect.stringMatching(/^FROM \$\{\w+\}$/)]);
    expect(build).toContain('debootstrap --variant=minbase');
    expect(build).toContain('docker import');
    for (const pkg of ['gobgpd', 'golang-github-osrg-gobgp-dev', 'bird2', 'etcd-server']) expect(deps).toContain(pkg);
    expect(app).toContain(`lab render --dir /var/lib/gtm-lab --etcd http://${PLAN.etcd}:2379`);
    const entry = readFileSync(join(ROOT, 'lab', 'docker', 'entry.sh'), 'utf8');
    for (const f of ['router', 'pop', 'dns', 'control', 'etcd', 'client', 'start', 'signal'])
      expect(entry).toMatch(new RegExp(`^  ${f}\\)$`, 'm'));
    for (const f of ['entry.sh', 'build-images.sh'])
      expect(spawnSync('bash', ['-n', join(ROOT, 'lab', 'docker', f)]).status, f).toBe(0);
    expect(clab.topology.defaults.image).toBe('gtm-lab:latest');
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
      if (Date.now() > end)
        throw new Error(
          `timed out waiting for ${what}; last answers: ${CLIENTS.map((c) => `${c.name} ${kdig(`c-${c.name}`, c.subnet) ?? 'none'}`).join(', ')}; logs in ${files}`,
        );
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
        GTM_LAB_DIR: files,
        GTM_PID_DIR: join(files, 'pids', name),
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
