// The lab's processes as the drills act on them, on either engine: in the namespace lab by the
// PIDs recorded in the lab directory, in the compose lab through each container's entry script
// (which records its processes' PIDs inside the container). Never by pattern.
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { killPid } from './netns.js';
import { pidOf, startLbNode as startLbNodeNs } from './processes.js';
import { containerInitPid, inContainer } from './compose.js';
import type { Lab, LabPop } from './model.js';

/**
 * The host's PID of a process of a container, given its PID inside the container's own PID
 * namespace: signals sent from here land at once (a `docker exec` takes most of a second to start).
 */
function hostPid(lab: Lab, service: string, containerPid: number): number | undefined {
  const init = containerInitPid(lab, service);
  const ns = readlinkSync(`/proc/${init}/ns/pid`);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/pid`) !== ns) continue;
      const nspid = /^NSpid:\s+(.*)$/m
        .exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1]
        ?.trim()
        .split(/\s+/);
      if (Number(nspid?.at(-1)) === containerPid) return Number(d);
    } catch {
      /* ended while we looked */
    }
  }
  return undefined;
}

/** The PID a container's entry script recorded for one of its processes (inside its namespace). */
function recordedPid(lab: Lab, service: string, name: string): number | undefined {
  const file = `/proc/${containerInitPid(lab, service)}/root/run/gtm/${name}.pid`;
  return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined;
}

/** Signals named lab processes of one PoP (`us-east-lb1`, `us-east-agent`) at once. */
export function signalProcesses(lab: Lab, pop: LabPop, names: string[], signal: NodeJS.Signals): void {
  for (const name of names) signalService(lab, pop.region, name, signal);
}

/**
 * Signals one named lab process (`control`, `etcd`); `service` is the compose service it runs
 * in (a PoP's region, `control`, `etcd`). Returns whether a process was found.
 */
export function signalService(lab: Lab, service: string, name: string, signal: NodeJS.Signals): boolean {
  const pid = pidOfService(lab, service, name);
  killPid(pid, signal);
  return pid !== undefined;
}

/** The host's PID of a named lab process now (its latest start), on either engine. */
export function pidOfService(lab: Lab, service: string, name: string): number | undefined {
  if (lab.engine !== 'compose') return pidOf(lab, name);
  const pid = recordedPid(lab, service, name);
  return pid === undefined ? undefined : hostPid(lab, service, pid);
}

/** Signals a process by the PID its PoP reports (gobgpd's, from the agent's status). */
export function signalInPop(lab: Lab, pop: LabPop, pid: number, signal: NodeJS.Signals): void {
  killPid(lab.engine === 'compose' ? hostPid(lab, pop.region, pid) : pid, signal);
}

export function startLbNode(lab: Lab, pop: LabPop, node: 1 | 2): void {
  if (lab.engine === 'compose')
    inContainer(lab, pop.region, ['gtm-lab-entry', 'start', 'lb', pop.region, String(pop.n), String(node)]);
  else startLbNodeNs(lab, pop, node);
}

/** The PID a process of one PoP runs as now (its latest start), on either engine. */
export function pidInPop(lab: Lab, pop: LabPop, name: string): number | undefined {
  return pidOfService(lab, pop.region, name);
}

/**
 * Waits for a supervised process (agent, DNS, control, probe) to be started again by its
 * supervisor after it died: a PID other than `before`, alive. Throws after `ms`: the restart
 * policy did not hold.
 */
export async function waitRestarted(lab: Lab, pop: LabPop, name: string, before: number | undefined, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const pid = pidInPop(lab, pop, name);
    if (pid !== undefined && pid !== before && alive(pid)) return pid;
    if (Date.now() > end) throw new Error(`${name} was not started again by its supervisor within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
