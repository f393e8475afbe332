// Lab processes: started detached in a namespace, logged and recorded by PID in the lab directory.
import { spawn } from 'node:child_process';
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
