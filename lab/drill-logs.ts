// Drills: reading the lab processes' JSON logs for their named events (src/state/events.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alertsFile, type Lab, type LabPop } from './lab.js';
import type { Observed } from './drill-kit.js';
import { isEvent } from '../src/contract/index.js';

/** A pino line of a lab process; named events carry `event` (see src/state/events.ts). */
export type LogLine = { time: number; msg: string; event?: string } & Record<string, unknown>;

/** The JSON lines of one lab process's log (pino), skipping anything else. */
export function readLog(lab: Lab, file: string): LogLine[] {
  const path = join(lab.dir, 'logs', file);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return []; // a line still being written
      }
    });
}

export function agentWentDownAt(lab: Lab, pop: LabPop, since: number): number | undefined {
  return readLog(lab, `${pop.name}-agent.log`).find(
    (j) => isEvent(j, 'agent.vip.state') && j.time >= since && j.to === 'DOWN',
  )?.time;
}

/** One timeline line per named event the drills show; other lines are not shown. */
export function describeEvent(j: LogLine): string | undefined {
  if (isEvent(j, 'agent.vip.state')) return `VIP ${j.vip} ${j.from} -> ${j.to} (${j.reason})`;
  if (isEvent(j, 'agent.lb.node')) return `LB node ${j.node} ${j.state}`;
  if (isEvent(j, 'bgp.path.withdrawn')) return `withdrew ${j.prefix}`;
  if (isEvent(j, 'region.state')) return `region ${j.region} ${j.from} -> ${j.to} (${j.reason})`;
  if (isEvent(j, 'gobgpd.started')) return 'gobgpd started';
  if (isEvent(j, 'gobgpd.exited')) return `gobgpd exited (code ${j.code}); restarting it`;
  if (isEvent(j, 'bfd.session')) return `BFD to ${j.peer} ${j.from ?? 'unknown'} -> ${j.to ?? 'unknown'}`;
  if (isEvent(j, 'bgp.session')) return `BGP to ${j.peer} ${j.from ?? 'unknown'} -> ${j.to}`;
  if (isEvent(j, 'bgp.guardrail'))
    return j.held ? `guard rail keeps ${j.vip} announced, drained (${j.reason})` : `guard rail released ${j.vip}`;
  if (isEvent(j, 'store.lost'))
    return `shared store silent for ${j.silentS} s: fallback ${j.fallback} (control.store_lost)`;
  if (isEvent(j, 'store.back')) return `shared store answers again after ${j.silentS} s`;
  if (isEvent(j, 'vantage.target'))
    return `${j.region} ${j.reachable ? 'reachable' : `NOT reachable (${j.detail})`} from here`;
  return undefined;
}

export function logEventsSince(lab: Lab, t0: number): { t: number; what: string }[] {
  const out: { t: number; what: string }[] = [];
  const files = [
    ...lab.pops.map((p) => [`${p.name}-agent.log`, `agent ${p.name}`] as const),
    ...lab.clients.map((c) => [`probe-${c.name}.log`, `probe ${c.name}`] as const),
    ['dns.log', 'DNS'] as const,
  ];
  for (const [file, who] of files) {
    for (const j of readLog(lab, file)) {
      if (j.time < t0) continue;
      const what = describeEvent(j);
      if (what) out.push({ t: j.time, what: `${who}: ${what}` });
    }
  }
  return out;
}

/** The typed facts drills decide on: region and VIP state changes, and alerts received, from t0. */
export function typedEventsSince(
  lab: Lab,
  t0: number,
): Pick<Observed, 'regionChanges' | 'vipChanges' | 'alerts' | 'guardrail' | 'dnsGuard' | 'storeEvents'> {
  const dnsLog = readLog(lab, 'dns.log').filter((j) => j.time >= t0);
  const regionChanges = dnsLog.flatMap((j) =>
    isEvent(j, 'region.state') ? [{ t: j.time, region: j.region, to: j.to, source: j.source }] : [],
  );
  const storeEvents = storeEventsOf(dnsLog);
  const dnsGuard = dnsLog.flatMap((j) => (isEvent(j, 'guardrail.held') ? [{ t: j.time, held: j.held }] : []));
  const vipChanges = lab.pops.flatMap((p) =>
    readLog(lab, `${p.name}-agent.log`)
      .filter((j) => j.time >= t0)
      .flatMap((j) => (isEvent(j, 'agent.vip.state') ? [{ t: j.time, pop: p.name, vip: j.vip, to: j.to }] : [])),
  );
  const guardrail = lab.pops.flatMap((p) =>
    readLog(lab, `${p.name}-agent.log`)
      .filter((j) => j.time >= t0)
      .flatMap((j) => (isEvent(j, 'bgp.guardrail') ? [{ t: j.time, pop: p.name, held: j.held }] : [])),
  );
  const alerts = alertsSince(lab, t0);
  return { regionChanges, vipChanges, alerts, guardrail, dnsGuard, storeEvents };
}

/** A DNS server's losing and finding the shared store again (typed `store.*` events), from its log lines. */
export function storeEventsOf(lines: LogLine[]): Observed['storeEvents'] {
  return lines.flatMap((j): Observed['storeEvents'] => {
    if (isEvent(j, 'store.lost')) return [{ t: j.time, kind: 'lost', fallback: j.fallback }];
    return isEvent(j, 'store.back') ? [{ t: j.time, kind: 'back' }] : [];
  });
}

/** The alerts the lab's webhook received from `t0`. */
export function alertsSince(lab: Lab, t0: number): Observed['alerts'] {
  const file = alertsFile(lab.dir);
  return (existsSync(file) ? readFileSync(file, 'utf8').split('\n') : []).flatMap((line) => {
    try {
      const { receivedAt, alert } = JSON.parse(line) as { receivedAt: number; alert: Record<string, unknown> };
      if (receivedAt < t0) return [];
      const str = (k: string) => (typeof alert[k] === 'string' ? (alert[k] as string) : undefined);
      return [
        {
          t: receivedAt,
          event: str('event') ?? '?',
          region: str('region'),
          to: str('to'),
          source: str('source'),
          summary: str('summary') ?? '',
        },
      ];
    } catch {
      return [];
    }
  });
}
