// Lab processes: started detached in a namespace, logged and recorded by PID in the lab directory.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { appendFileSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, type LabPop, type Lab } from './model.js';
import { PLAN } from './address-plan.js';

function record(dir: string, name: string, pid: number | undefined): void {
  appendFileSync(join(dir, 'pids'), `${name} ${pid ?? -1}\n`);
}

/** Starts a long-running process in a namespace, detached, logging to the lab directory (`logName`.log). */
export function daemon(lab: Lab, name: string, ns: string, cmd: string, args: string[], logName = name): number {
  const log = openSync(join(lab.dir, 'logs', `${logName}.log`), 'a');
  const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { detached: true, stdio: ['ignore', log, log] });
  p.unref();
  record(lab.dir, name, p.pid);
  return p.pid ?? -1;
}

/**
 * A product process (agent, DNS, control plane, probe) under the lab's restart policy
 * (lab/supervise.ts, the systemd units' policy): the child is recorded under `name` at each
 * start, the supervisor as `name.supervisor`.
 */
export function supervised(lab: Lab, name: string, ns: string, cmd: string, args: string[]): number {
  // One log per process: the supervisor's own lines (restarts) go with its child's.
  return daemon(
    lab,
    `${name}.supervisor`,
    ns,
    process.execPath,
    [join(ROOT, 'dist', 'lab', 'supervise.js'), join(lab.dir, 'pids'), name, '--', cmd, ...args],
    name,
  );
}

export function pidOf(lab: Lab, name: string): number | undefined {
  const lines = existsSync(join(lab.dir, 'pids')) ? readFileSync(join(lab.dir, 'pids'), 'utf8').trim().split('\n') : [];
  const hit = lines.reverse().find((l) => l.split(' ')[0] === name);
  return hit ? Number(hit.split(' ')[1]) : undefined;
}

export function startLbNode(lab: Lab, pop: LabPop, node: 1 | 2): number {
  return daemon(lab, `${pop.name}-lb${node}`, pop.ns, process.execPath, [
    join(ROOT, 'dist', 'lab', 'lb-node.js'),
    `${pop.name}-lb${node}`,
    PLAN.lbNode(pop.n, node),
    '8080',
  ]);
}

export function startAgent(lab: Lab, pop: LabPop): number {
  return supervised(lab, `${pop.name}-agent`, pop.ns, process.execPath, [
    join(ROOT, 'bin', 'gtm.js'),
    'agent',
    '--config',
    lab.config,
    '--pop',
    pop.name,
    '--state-dir',
    join(lab.dir, 'pops', pop.name),
  ]);
}

/**
 * Host ports relayed into a namespace (lab/forward.ts): each listener is opened here, on the
 * host's loopback, and inherited by a forwarder that runs inside `ns` and connects to its
 * target there. A host port already taken is skipped and named in the result.
 */
export async function forwardFromHost(
  lab: Lab,
  ns: string,
  routes: { hostPort: number; target: string }[],
): Promise<{ forwarded: typeof routes; busy: typeof routes }> {
  const open: { route: (typeof routes)[number]; server: Server }[] = [];
  const busy: typeof routes = [];
  for (const route of routes) {
    const server = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(route.hostPort, '127.0.0.1', () => resolve(true));
    });
    if (ok) open.push({ route, server });
    else busy.push(route);
  }
  if (open.length) {
    const log = openSync(join(lab.dir, 'logs', 'forward.log'), 'a');
    // The listening sockets' descriptors (Node keeps them on the server's handle) go to the child.
    const fds = open.map((o) => (o.server as unknown as { _handle: { fd: number } })._handle.fd);
    const p = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        join(ROOT, 'dist', 'lab', 'forward.js'),
        ...open.map((o) => o.route.target),
      ],
      { detached: true, stdio: ['ignore', log, log, ...fds] },
    );
    p.unref();
    record(lab.dir, 'forward', p.pid);
    // The child holds its own copies: ours close, the sockets stay open in the forwarder.
    for (const o of open) o.server.close();
  }
  return { forwarded: open.map((o) => o.route), busy };
}
