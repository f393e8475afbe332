// Named events: everything one process does that another reads back (the drills' timelines,
// operators' log queries). Each is logged with its name in the `event` field and a typed
// payload; readers match the name, never the human message, which may be reworded freely.
import type { RegionSource, RegionStatus, VipState } from './contract.js';

export interface EventPayloads {
  'agent.started': { pop: string; vips: string[]; api: string };
  'agent.vip.state': {
    vip: string;
    from: VipState;
    to: VipState;
    reason: string;
    announce: 'normal' | 'drain' | 'none';
  };
  'agent.lb.node': { vip: string; node: string; state: 'unknown' | 'up' | 'down'; detail: string };
  'agent.maintenance': { source: 'api' | 'file' | 'operator'; enabled: boolean; reason?: string; who?: string };
  'bgp.path.announced': { prefix: string; med?: number; communities: string[]; prepend: number; ms: number };
  'bgp.path.withdrawn': { prefix: string; ms: number };
  'bgp.session': { peer: string; from?: string; to: string };
  'bfd.session': { peer: string; from: string | null; to: string | null };
  /** A shared anycast VIP kept announced (drained) by the BGP guard rail, or released. */
  'bgp.guardrail': { vip: string; shared: string; held: boolean; reason: string };
  'gobgpd.started': { pid: number; policy: 'withdraw' | 'keep' };
  'gobgpd.exited': { code: number | null };
  'region.state': { region: string; from?: RegionStatus; to: RegionStatus; reason?: string; source?: RegionSource };
  'guardrail.held': { held: string[] };
  /** An operator's forced override appeared (it passes the guard rail). */
  'override.forced': { region: string; status: RegionStatus; who: string; reason: string; expiresAt?: number };
  /** An operator's override will expire soon (then health decides again). */
  'override.expiring': { region: string; status?: RegionStatus; who: string; reason: string; expiresAt: number };
  'vantage.started': { point: string; region?: string; targets: string[] };
  /** A vantage point's view of a region changed (after rise/fall). */
  'vantage.target': { point: string; region: string; reachable: boolean; detail: string };
  'dns.listening': { listen: string; workers: number; config: string };
  'dns.worker.ready': { worker: number };
  'dns.worker.exited': { worker: number; code: number | null; signal: string | null };
  /**
   * A DNS worker saturated by memo misses (busy >= 90% of 100 ms, refusing `refused` misses past
   * its budget in that time): its UDP queue is held short. Once a minute at most; `times` counts.
   */
  'dns.saturated': { times: number; refused: number; udpReceiveBuffer: number };
  /** A zone transfer request answered: `outcome` says sent (how many records) or why refused. */
  'zone.transfer': { remote: string; zone: string; outcome: string; messages: number };
  /** A NOTIFY to a secondary: acknowledged, answered with an error, or unanswered after its tries. */
  'zone.notify': { zone: string; target: string; serial: number; outcome: string };
  /**
   * A secondary zone's refresh (`zones.<name>.primary`): up to date, transferred (AXFR or IXFR,
   * with the serial), failed at a primary, or expired (served SERVFAIL until a primary answers).
   */
  'zone.refresh': { zone: string; primary: string; serial: number | null; outcome: string };
  'config.reloaded': { why: string };
  /** A reload was asked for and nothing it reads (the file, key files, geo data) had changed. */
  'config.unchanged': { why: string };
  'config.refused': { why: string; problems: string[] };
  'store.file.fleet-too-large': { agents: number; limit: number; path: string };
  /** The shared store silent past `max_stale_s`: the fallback now applies (`since`: its last answer, ms). */
  'store.lost': { since: number; silentS: number; fallback: 'configured' | 'servfail' };
  /** The shared store answers again after a `store.lost`: the merged state applies again. */
  'store.back': { silentS: number };
}

export type EventName = keyof EventPayloads;

/** Every event name, for readers that list or validate them. */
export const EVENT_NAMES = [
  'agent.started',
  'agent.vip.state',
  'agent.lb.node',
  'agent.maintenance',
  'bgp.path.announced',
  'bgp.path.withdrawn',
  'bgp.session',
  'bfd.session',
  'bgp.guardrail',
  'gobgpd.started',
  'gobgpd.exited',
  'region.state',
  'guardrail.held',
  'override.forced',
  'override.expiring',
  'vantage.started',
  'vantage.target',
  'dns.listening',
  'dns.worker.ready',
  'dns.worker.exited',
  'dns.saturated',
  'zone.transfer',
  'zone.notify',
  'zone.refresh',
  'config.reloaded',
  'config.unchanged',
  'config.refused',
  'store.file.fleet-too-large',
  'store.lost',
  'store.back',
] as const satisfies readonly EventName[];

/** The part of a pino logger an event needs (kept structural so pure code can take a fake). */
export interface EventSink {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

type EventListener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void;
const listeners = new Set<EventListener>();

/** Hears every event this process emits (alerts); returns the unsubscribe. */
export function onEvent(listener: EventListener): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

/** Logs one named event: `{event, ...payload}` with a human message, and tells listeners. */
export function emit<E extends EventName>(
  log: EventSink,
  event: E,
  payload: EventPayloads[E],
  msg: string,
  level: 'info' | 'warn' | 'error' = 'info',
): void {
  log[level]({ event, ...payload }, msg);
  for (const l of listeners) {
    try {
      l(event, payload);
    } catch (err) {
      log.error({ err: (err as Error).message, event }, 'an event listener failed');
    }
  }
}

/** A parsed log line that carries event `E` (for readers such as the drills). */
export type LoggedEvent<E extends EventName> = EventPayloads[E] & { event: E; time: number; msg: string };

export function isEvent<E extends EventName>(line: { event?: unknown }, event: E): line is LoggedEvent<E> {
  return line.event === event;
}
