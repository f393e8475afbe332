// The failover lab in containers: docker-compose.yml on a Docker engine (the user's, or one the
// lab starts itself), built from Debian's packages without any registry. The lab's files are
// rendered on the host, into the same directory as the namespace lab's, and mounted into every
// container at the same path, so the router's control socket, the logs and the alerts are read
// exactly as in the namespace lab; each container's network namespace is attached under the
// namespace lab's names (`ip netns attach`), so `gtm lab status` and the drills run unchanged.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compose, docker, ensureEngine, stopEngine, type Engine } from './docker-engine.js';
import { delNs, ip, nsExists } from './netns.js';
import { PREFIX, ROOT, composeFile, labOf, type ComposeLab, type Lab } from './model.js';
import { containerRoles } from './containers.js';
import type { Config } from '../src/config/index.js';

export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
/** The compose project: the lab prefix without its dash (gtmlab-, gtc123-: gtmlab, gtc123). */
export const PROJECT = PREFIX.replace(/-+$/, '').replace(/[^a-z0-9]/g, '');

/** The namespace lab's name for a service's network namespace (control shares the DNS node's). */
function nsName(lab: Lab, service: string): string | undefined {
  const pop = lab.pops.find((p) => p.region === service);
  if (pop) return pop.ns;
  if (service === 'router') return `${PREFIX}rtr`;
  if (service === 'dns') return `${PREFIX}dns`;
  if (service === 'etcd') return `${PREFIX}etcd`;
  return lab.clients.find((c) => `c-${c.name}` === service)?.ns;
}

const env = (lab: Lab) => ({ GTM_LAB_TOKEN: lab.token, GTM_LAB_VOLUME: lab.dir, GTM_LAB_DIR: lab.dir });

export async function composeUp(config: Config, lab: Lab, log: (s: string) => void): Promise<Lab> {
  for (const tool of ['docker', 'debootstrap'])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
      throw new Error(`${tool} is missing: run bash scripts/setup.sh as root`);
  const engine = await ensureEngine(log);
  const record: ComposeLab = { host: engine.host, project: PROJECT, containers: {}, initPids: {}, namespaces: [] };
  if (engine.startedPid) record.startedPid = engine.startedPid;
  // Written first: whatever happens next, `lab down` knows what to remove.
  writeFileSync(composeFile(lab.dir), JSON.stringify(record));
  const started = Date.now();
  const build = spawnSync('bash', [join(ROOT, 'lab', 'docker', 'build-images.sh')], {
    env: { ...process.env, DOCKER_HOST: engine.host },
    encoding: 'utf8',
    timeout: 900_000,
  });
  if (build.status !== 0)
    throw new Error(`building the lab images failed:\n${(build.stdout + build.stderr).trim().slice(-2000)}`);
  log(`${build.stdout.trim()}\nimages ready in ${Math.round((Date.now() - started) / 1000)} s`);
  compose(engine, PROJECT, COMPOSE_FILE, ['up', '-d', '--no-build'], env(lab));
  const regions = [...config.regions.values()].map((r) => ({ name: r.name, vip: r.vip4 as string }));
  for (const { name } of containerRoles(regions)) {
    const id = docker(engine, [
      'ps',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${PROJECT}`,
      '--filter',
      `label=com.docker.compose.service=${name}`,
    ]).trim();
    if (!id) throw new Error(`compose lab: no container for ${name}`);
    record.containers[name] = id;
    const pid = Number(docker(engine, ['inspect', '-f', '{{.State.Pid}}', id]).trim());
    record.initPids[name] = pid;
    const ns = nsName(lab, name);
    if (!ns) continue;
    if (nsExists(ns)) delNs(ns);
    ip('netns', 'attach', ns, String(pid));
    record.namespaces.push(ns);
  }
  writeFileSync(composeFile(lab.dir), JSON.stringify(record));
  log(`containers: ${Object.keys(record.containers).join(' ')} (project ${PROJECT}, engine ${engine.host})`);
  return labOf(config, lab.dir, lab.token, 'bird', record);
}

/** Removes every container, network and volume of the project, the attached names, and our engine. */
export async function composeDown(lab: Pick<Lab, 'dir' | 'token'>, record: ComposeLab, log: (s: string) => void) {
  const engine: Engine = { host: record.host, startedPid: record.startedPid };
  let removed = 'nothing';
  try {
    compose(engine, record.project, COMPOSE_FILE, ['down', '-v', '--remove-orphans', '-t', '5'], {
      GTM_LAB_TOKEN: lab.token || 'down-needs-no-token',
      GTM_LAB_VOLUME: lab.dir,
      GTM_LAB_DIR: lab.dir,
    });
    removed = 'containers, networks and volumes';
  } catch (err) {
    log(`compose down failed: ${(err as Error).message.split('\n')[0]}`);
  }
  for (const ns of record.namespaces) delNs(ns);
  await stopEngine(engine, log);
  if (existsSync(lab.dir)) rmSync(lab.dir, { recursive: true, force: true });
  log(
    `lab down (compose project ${record.project}): removed ${removed} and ${record.namespaces.length} attached namespaces`,
  );
}

/** The host PID of a service's container's first process (its entry script). */
export function containerInitPid(lab: Lab, service: string): number {
  const c = lab.compose;
  const id = c?.containers[service];
  if (!c || !id) throw new Error(`compose lab: no container for ${service}`);
  // Recorded at `up`; asked again only if the container was restarted since (a new PID).
  c.initPids ??= {};
  const known = c.initPids[service];
  if (known && existsSync(`/proc/${known}/root/usr/local/bin/gtm-lab-entry`)) return known;
  const pid = Number(docker({ host: c.host }, ['inspect', '-f', '{{.State.Pid}}', id]).trim());
  c.initPids[service] = pid;
  return pid;
}

/** Runs the entry script's helpers in a service's container (start, signal). */
export function inContainer(lab: Lab, service: string, args: string[], detach = false): string {
  const c = lab.compose;
  const id = c?.containers[service];
  if (!c || !id) throw new Error(`compose lab: no container for ${service}`);
  return docker({ host: c.host }, ['exec', ...(detach ? ['-d'] : []), id, ...args], 30_000);
}
