// The container labs' files, rendered from the address plan and the example config's regions:
// docker-compose.yml (run for real by `gtm lab up --engine compose`, and by plain
// `docker compose up`) and the containerlab topology (rendered and golden-tested only:
// containerlab is not packaged in Debian or npm). `gtm lab render --containers` rewrites both.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../src/config/index.js';
import { CLIENT_PLAN, PLAN, clientGateway, labNetworks } from './address-plan.js';
import { EXAMPLE_CONFIG, ROOT } from './model.js';

export interface ContainerRegion {
  name: string;
  vip: string;
}

/** Each role the container labs run, with its entry command (lab/docker/entry.sh). */
export function containerRoles(regions: readonly ContainerRegion[]): { name: string; cmd: string[] }[] {
  return [
    { name: 'router', cmd: ['router'] },
    ...regions.map((r, i) => ({ name: r.name, cmd: ['pop', r.name, String(i + 1), r.vip] })),
    { name: 'etcd', cmd: ['etcd'] },
    { name: 'dns', cmd: ['dns'] },
    { name: 'control', cmd: ['control'] },
    ...CLIENT_PLAN.map((c) => ({ name: `c-${c.name}`, cmd: ['client', c.name, clientGateway(c)] })),
  ];
}

const yamlList = (items: string[]) =>
  `[${items.map((i) => (/^[\w.-]+$/.test(i) && !/^\d+$/.test(i) ? i : JSON.stringify(i))).join(', ')}]`;

export function renderCompose(regions: readonly ContainerRegion[]): string {
  const nets = labNetworks(regions.map((r) => r.name));
  const roles = containerRoles(regions);
  const service = (name: string, cmd: string[]) => {
    const lines = [`  ${name}:`, '    <<: *gtm', `    command: ${yamlList(cmd)}`];
    if (name === 'router') {
      lines.push('    sysctls: { net.ipv4.ip_forward: 1 }', '    networks:');
      for (const n of nets) lines.push(`      ${n.name}: { ipv4_address: ${n.routerAddress} }`);
    } else if (name === 'control') {
      lines.push('    depends_on: [dns]', '    network_mode: service:dns');
    } else if (name === 'etcd') {
      lines.push('    depends_on: [router]', '    networks:', `      dnsnet: { ipv4_address: ${PLAN.etcd} }`);
    } else {
      const net = nets.find((n) => n.host === name);
      if (!net) throw new Error(`no network for ${name}`);
      lines.push(
        '    depends_on: [router, etcd]',
        '    networks:',
        `      ${net.name}: { ipv4_address: ${net.hostAddress} }`,
      );
    }
    return lines.join('\n');
  };
  const networks = nets
    .map(
      (n) =>
        `  ${n.name}:\n    internal: true\n    ipam: { config: [{ subnet: ${n.subnet}, gateway: ${PLAN.gateway(n.subnet)} }] }`,
    )
    .join('\n');
  const us = CLIENT_PLAN.find((c) => c.name === 'us') ?? CLIENT_PLAN[0];
  const first = regions[0] ?? { name: 'pop', vip: PLAN.anycast };
  return `# The failover lab in containers: the same roles, addresses and files as \`gtm lab up\`
# (network namespaces). Rendered from lab/address-plan.ts by lab/containers.ts: edit those,
# then \`npx gtm lab render --containers\`; a golden test keeps this file equal to the rendering.
# Every network is internal and in documentation ranges; the engine's gateway is .254, so the
# lab router can be .1 as in the namespace lab.
#
# With the CLI (starts its own Docker engine if none runs, builds the images, runs drills):
#   npx gtm lab up --engine compose && npx gtm lab drill cluster-down && npx gtm lab down
#
# By hand, no registry needed (the images are built from Debian's packages):
#   bash lab/docker/build-images.sh
#   export GTM_LAB_TOKEN=$(openssl rand -hex 18)
#   docker compose up -d                 # or docker-compose up -d
#   docker compose exec c-${us.name} kdig @${PLAN.dns} +subnet=${us.subnet} www.example.test
#   docker compose exec c-${us.name} curl -s http://${first.vip}/
#   docker compose exec ${first.name} gtm-lab-entry signal KILL ${first.name}-lb1 ${first.name}-lb2   # its cluster dies
#   docker compose exec dns tail /var/lib/gtm-lab/logs/dns.log
#   docker compose down -v

x-gtm: &gtm
  image: gtm-lab:latest
  cap_add: [NET_ADMIN]
  environment:
    GTM_LAB_TOKEN: \${GTM_LAB_TOKEN:?set GTM_LAB_TOKEN to a random token of 16+ characters}
    GTM_LAB_DIR: \${GTM_LAB_DIR:-/var/lib/gtm-lab}
  # The lab's files, shared by every role: a volume filled from the image, or (gtm lab up) the
  # host's lab directory, mounted at the same path as on the host.
  volumes: ['\${GTM_LAB_VOLUME:-gtm-lab-files}:\${GTM_LAB_DIR:-/var/lib/gtm-lab}']
  restart: unless-stopped

services:
${roles.map((r) => service(r.name, r.cmd)).join('\n\n')}

networks:
${networks}

volumes:
  gtm-lab-files: {}
`;
}

export function renderContainerlab(regions: readonly ContainerRegion[]): string {
  const nets = labNetworks(regions.map((r) => r.name));
  const roles = containerRoles(regions);
  const ifOf = new Map(nets.map((n, i) => [n.name, `eth${i + 1}`]));
  const node = (name: string, cmd: string[]) => {
    const lines = [`    ${name}:`, `      cmd: ${cmd.join(' ')}`];
    if (name === 'router') {
      lines.push(
        '      sysctls: { net.ipv4.ip_forward: 1 }',
        '      env:',
        `        LAB_LINKS: ${nets.map((n) => `${ifOf.get(n.name)}=${n.routerAddress}/24`).join(' ')}`,
      );
    } else if (name === 'control') {
      lines.push('      network-mode: container:dns');
    } else if (name === 'etcd') {
      // etcd shares the DNS node's namespace here: the link carries both addresses.
      lines.push('      network-mode: container:dns');
    } else {
      const net = nets.find((n) => n.host === name);
      if (!net) throw new Error(`no network for ${name}`);
      const extra = name === 'dns' ? ` eth1=${PLAN.etcd}/24` : '';
      lines.push(`      env: { LAB_LINKS: eth1=${net.hostAddress}/24${extra} }`);
    }
    return lines.join('\n');
  };
  const links = nets.map((n) => `    - endpoints: ["router:${ifOf.get(n.name)}", "${n.host}:eth1"]`).join('\n');
  return `# The failover lab as a containerlab topology: the same roles, addresses and files as
# \`gtm lab up\` (network namespaces) and docker-compose.yml, rendered from lab/address-plan.ts
# by lab/containers.ts (a golden test keeps this file equal to the rendering). containerlab is
# not packaged in Debian or npm, so CI runs the compose lab for real and this topology with
# network namespaces standing in for its containers (test/integration/container-lab.test.ts).
#   bash lab/docker/build-images.sh
#   export GTM_LAB_TOKEN=$(openssl rand -hex 18)
#   containerlab deploy -t lab/containerlab/gtm.clab.yml
#   docker exec clab-gtm-c-${CLIENT_PLAN[0].name} kdig @${PLAN.dns} +subnet=${CLIENT_PLAN[0].subnet} www.example.test
#   containerlab destroy -t lab/containerlab/gtm.clab.yml
# Links are point-to-point veths; each node's entry script addresses its end (LAB_LINKS).
# The control API and etcd share the DNS node's network namespace.
name: gtm

topology:
  defaults:
    kind: linux
    image: gtm-lab:latest
    env:
      GTM_LAB_TOKEN: \${GTM_LAB_TOKEN}

  nodes:
${roles.map((r) => node(r.name, r.cmd)).join('\n')}

  links:
${links}
`;
}

/** The regions of the example config, which the committed container files are rendered from. */
export function exampleRegions(): ContainerRegion[] {
  process.env.GTM_LAB_TOKEN ??= 'render-needs-no-token-0000';
  return [...loadConfigFile(EXAMPLE_CONFIG).regions.values()].map((r) => ({ name: r.name, vip: r.vip4 as string }));
}

export const CONTAINER_FILES = {
  compose: join(ROOT, 'docker-compose.yml'),
  containerlab: join(ROOT, 'lab', 'containerlab', 'gtm.clab.yml'),
};

/** Rewrites docker-compose.yml and the containerlab topology from the model. */
export function writeContainerFiles(): string[] {
  const regions = exampleRegions();
  writeFileSync(CONTAINER_FILES.compose, renderCompose(regions));
  writeFileSync(CONTAINER_FILES.containerlab, renderContainerlab(regions));
  return Object.values(CONTAINER_FILES);
}
