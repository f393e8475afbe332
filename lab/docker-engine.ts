// The Docker engine the compose lab runs on. An engine the user already runs (DOCKER_HOST, or
// the default socket) is used as it is. Otherwise the lab starts its own dockerd with its own
// data root and socket, no default bridge and no firewall or forwarding changes, so the host's
// firewall rules and sysctls stay as they were; `gtm lab down` stops it. Its data root is kept:
// it holds the images, cached by content (lab/docker/build-images.sh).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const OWN_ENGINE = {
  dataRoot: '/var/lib/gtm-docker',
  execRoot: '/run/gtm-docker',
  socket: '/run/gtm-docker.sock',
  pidfile: '/run/gtm-docker.pid',
} as const;

export interface Engine {
  /** DOCKER_HOST for every docker and docker-compose call of the lab. */
  host: string;
  /** The PID of the dockerd the lab started (then `lab down` stops it). */
  startedPid?: number;
}

const envFor = (host: string) => ({ ...process.env, DOCKER_HOST: host });

function responds(host: string): boolean {
  const r = spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], {
    env: envFor(host),
    encoding: 'utf8',
    timeout: 15_000,
  });
  return r.status === 0 && r.stdout.trim() !== '';
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function ownPid(): number | undefined {
  if (!existsSync(OWN_ENGINE.pidfile)) return undefined;
  const pid = Number(readFileSync(OWN_ENGINE.pidfile, 'utf8').trim());
  return pid > 0 && alive(pid) ? pid : undefined;
}

/** Finds an engine to use, or starts the lab's own. */
export async function ensureEngine(log: (s: string) => void): Promise<Engine> {
  const own = `unix://${OWN_ENGINE.socket}`;
  if (process.env.DOCKER_HOST && process.env.DOCKER_HOST !== own && responds(process.env.DOCKER_HOST))
    return { host: process.env.DOCKER_HOST };
  if (existsSync('/var/run/docker.sock') && responds('unix:///var/run/docker.sock'))
    return { host: 'unix:///var/run/docker.sock' };
  // Ours, left running by a lab that did not come down: adopt it (down stops it).
  const running = ownPid();
  if (running && responds(own)) return { host: own, startedPid: running };
  if (!['/usr/sbin/dockerd', '/usr/bin/dockerd'].some((p) => existsSync(p)))
    throw new Error('no Docker engine runs and dockerd is missing: run bash scripts/setup.sh as root');
  mkdirSync(OWN_ENGINE.dataRoot, { recursive: true });
  const out = openSync(join(OWN_ENGINE.dataRoot, 'dockerd.log'), 'a');
  const d = spawn(
    'dockerd',
    [
      '--data-root',
      OWN_ENGINE.dataRoot,
      '--exec-root',
      OWN_ENGINE.execRoot,
      '--pidfile',
      OWN_ENGINE.pidfile,
      '-H',
      own,
      // No docker0, no iptables rules, no forwarding or masquerading: the host stays as it was.
      '--bridge=none',
      '--iptables=false',
      '--ip-forward=false',
      '--ip-masq=false',
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  d.unref();
  const end = Date.now() + 60_000;
  while (!responds(own)) {
    if (d.exitCode !== null || Date.now() > end) {
      if (d.exitCode === null) process.kill(d.pid as number, 'SIGTERM');
      throw new Error(`dockerd did not start; see ${join(OWN_ENGINE.dataRoot, 'dockerd.log')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`docker: started the lab's own engine (pid ${d.pid}, ${own}, data root ${OWN_ENGINE.dataRoot})`);
  return { host: own, startedPid: d.pid };
}

/** Stops the engine if the lab started it (waits for it to unmount and exit). */
export async function stopEngine(engine: Engine, log: (s: string) => void): Promise<void> {
  const pid = engine.startedPid;
  if (!pid || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const end = Date.now() + 30_000;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  // dockerd leaves its exec root behind, with the host namespace bind-mounted in it
  // (libnetwork's netns/default): unmount what is still mounted there, then remove it.
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${OWN_ENGINE.execRoot}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  rmSync(OWN_ENGINE.execRoot, { recursive: true, force: true });
  log(`docker: stopped the lab's own engine (pid ${pid})`);
}

/** Runs docker with the lab's engine; returns stdout. */
export function docker(engine: Engine, args: string[], timeoutMs = 60_000): string {
  return execFileSync('docker', args, {
    env: envFor(engine.host),
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** docker-compose (Debian's 1.29, or the compose plugin) with the lab's engine and environment. */
export function compose(
  engine: Engine,
  project: string,
  file: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 300_000,
): string {
  const plugin = spawnSync('docker', ['compose', 'version'], { env: envFor(engine.host), encoding: 'utf8' });
  const [cmd, pre] = plugin.status === 0 ? ['docker', ['compose']] : ['docker-compose', []];
  return execFileSync(cmd, [...pre, '-p', project, '-f', file, ...args], {
    env: { ...envFor(engine.host), ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
