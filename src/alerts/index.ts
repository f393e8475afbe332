// Public entry of the alerts capability: named events (src/state/events.ts) delivered to webhooks
// as generic JSON, a Slack-compatible body or PagerDuty Events v2. Delivery retries with
// backoff, drops repeats of the same event within a window, and appends what it could not
// deliver to a dead-letter log (JSON lines). Secrets come from the environment.
import { Counter, type Registry } from '../observability/index.js';
import { closeSync, fchmodSync, fstatSync, openSync, writeSync } from 'node:fs';
import { ALERT_EVENTS, type AlertDestination, type AlertEvent } from '../config/index.js';
import { onEvent, type EventPayloads } from '../contract/index.js';

export { ALERT_EVENTS } from '../config/index.js';

export interface Alert {
  event: AlertEvent;
  payload: EventPayloads[AlertEvent];
  at: number;
  /** Which process saw it: "gtm control", "pop nyc1". */
  origin?: string;
}

const isUp = (s: string | null | undefined) => (s ?? '').toUpperCase() === 'UP' || s === 'ESTABLISHED';

/** Whether an event is worth a page: a session lost or back, not every step in between. */
export function alertable(event: AlertEvent, payload: EventPayloads[AlertEvent]): boolean {
  if (event === 'bgp.session' || event === 'bfd.session') {
    const p = payload as { from?: string | null; to: string | null };
    return isUp(p.from) !== isUp(p.to);
  }
  return true;
}

/** Whether the alert says a problem is over (PagerDuty resolves the incident it opened). */
function recovered(a: Alert): boolean {
  if (a.event === 'region.state') return (a.payload as EventPayloads['region.state']).to === 'up';
  if (a.event === 'bgp.session' || a.event === 'bfd.session') return isUp((a.payload as { to: string | null }).to);
  return false;
}

/** One line a person reads: what happened, where. */
export function summary(a: Alert): string {
  const where = a.origin && (a.event === 'bgp.session' || a.event === 'bfd.session') ? `${a.origin}: ` : '';
  switch (a.event) {
    case 'override.forced': {
      const p = a.payload as EventPayloads['override.forced'];
      const until = p.expiresAt ? ` until ${new Date(p.expiresAt).toISOString()}` : ' with no expiry';
      return `region ${p.region} forced ${p.status} by ${p.who}${until} (${p.reason}); the guard rail does not apply`;
    }
    case 'override.expiring': {
      const p = a.payload as EventPayloads['override.expiring'];
      return `override of region ${p.region} by ${p.who} (${p.reason}) expires at ${new Date(p.expiresAt).toISOString()}; health decides after that`;
    }
    case 'region.state': {
      const p = a.payload as EventPayloads['region.state'];
      return `region ${p.region} ${p.from ?? '?'} -> ${p.to}${p.reason ? ` (${p.reason})` : ''}`;
    }
    case 'guardrail.held':
      return `guard rail holding ${(a.payload as EventPayloads['guardrail.held']).held.join(', ')} in DNS although health says out`;
    default: {
      const p = a.payload as { peer: string; from?: string | null; to: string | null };
      const what = a.event === 'bgp.session' ? 'BGP session' : 'BFD session';
      return `${where}${what} with ${p.peer} ${p.from ?? '?'} -> ${p.to ?? 'gone'}`;
    }
  }
}

/** The incident an alert belongs to (PagerDuty's dedup_key): a region, or one PoP's session. */
function incident(a: Alert): string {
  if (a.event === 'region.state') return `gtm-region-${(a.payload as EventPayloads['region.state']).region}`;
  if (a.event === 'guardrail.held') return 'gtm-guardrail';
  if (a.event === 'override.forced' || a.event === 'override.expiring')
    return `gtm-override-${(a.payload as EventPayloads['override.forced']).region}`;
  const peer = (a.payload as { peer: string }).peer;
  return `gtm-${a.event === 'bgp.session' ? 'bgp' : 'bfd'}-${a.origin ?? ''}-${peer}`;
}

/**
 * Sends this process's alertable events to the destinations that want them. `origin` names the
 * process in the alert; undelivered alerts go to `deadLetter`. Returns the stop.
 */
export function startAlerts(
  destinations: AlertDestination[],
  origin: string,
  opts: SenderOptions,
  now: () => number = Date.now,
): { sender: AlertSender; stop(): Promise<void> } {
  const sender = new AlertSender(destinations, opts);
  const unsubscribe = onEvent((event, payload) => {
    if (!(ALERT_EVENTS as readonly string[]).includes(event)) return;
    const e = event as AlertEvent;
    const p = payload as EventPayloads[AlertEvent];
    if (alertable(e, p)) sender.send({ event: e, payload: p, at: now(), origin });
  });
  return {
    sender,
    stop: async () => {
      unsubscribe();
      await sender.close();
    },
  };
}

/** The request body for one destination (pure). */
export function alertBody(d: AlertDestination, a: Alert, secret?: string): unknown {
  const text = `gtm: ${summary(a)}`;
  if (d.format === 'slack') return { text };
  if (d.format === 'pagerduty') {
    // Events v2: a region or session back up resolves the incident its loss opened (same dedup_key).
    return {
      routing_key: secret ?? '',
      event_action: recovered(a) ? 'resolve' : 'trigger',
      dedup_key: incident(a),
      payload: {
        summary: text,
        source: a.origin ?? 'gtm',
        severity: a.event === 'region.state' || a.event.endsWith('.session') ? 'error' : 'warning',
        timestamp: new Date(a.at).toISOString(),
        custom_details: { event: a.event, ...a.payload },
      },
    };
  }
  return {
    event: a.event,
    at: new Date(a.at).toISOString(),
    ...(a.origin ? { origin: a.origin } : {}),
    summary: summary(a),
    ...a.payload,
  };
}

/** Delay before retry n (1, 2, ...): doubling from `baseMs`, capped. */
export function backoffMs(n: number, baseMs: number, capMs = 60_000): number {
  return Math.min(capMs, baseMs * 2 ** (n - 1));
}

export interface SenderOptions {
  /** Attempts per alert and destination, the first included. */
  attempts?: number;
  retryBaseMs?: number;
  /** The same alert as the last of its incident, within this window, is sent once. */
  dedupeMs?: number;
  timeoutMs?: number;
  deadLetter: string;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  env?: NodeJS.ProcessEnv;
  /** Where `gtm_alerts_total` goes (the host process's /metrics). */
  registry?: Registry;
}

export class AlertSender {
  private readonly recent = new Map<string, { payload: string; at: number }>();
  /** Retries waiting for their turn, with what they would send. */
  private readonly timers = new Map<NodeJS.Timeout, { d: AlertDestination; a: Alert; n: number; error: string }>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  private readonly counted?: Counter<'destination' | 'event' | 'result'>;

  constructor(
    private readonly destinations: AlertDestination[],
    private readonly opts: SenderOptions,
  ) {
    if (opts.registry)
      this.counted = new Counter({
        name: 'gtm_alerts_total',
        help: 'Alerts by destination and event: delivered, retried, or given up (dead-letter log)',
        labelNames: ['destination', 'event', 'result'],
        registers: [opts.registry],
      });
  }

  /** Queues the alert for every destination that wants this event. */
  send(a: Alert): void {
    if (this.closed) return;
    // A repeat is the same alert as the last one of its incident (a region, a PoP's session):
    // a region that goes down, back up and down again alerts each time.
    const key = `${a.event}|${incident(a)}`;
    const payload = JSON.stringify(a.payload);
    const last = this.recent.get(key);
    if (last && last.payload === payload && a.at - last.at < (this.opts.dedupeMs ?? 60_000)) return;
    this.recent.set(key, { payload, at: a.at });
    if (this.recent.size > 10_000) this.recent.clear();
    for (const d of this.destinations) if (d.events.includes(a.event)) this.attempt(d, a, 1);
  }

  private attempt(d: AlertDestination, a: Alert, n: number): void {
    const count = (result: string) => this.counted?.inc({ destination: d.name, event: a.event, result });
    const p = this.post(d, a).then(
      () => void count('delivered'),
      (raw: Error) => {
        // fetch's errors may quote the URL, and with it the secret it carries.
        const err = new Error(raw.message.split(d.url).join(redactUrl(d.url)));
        const attempts = this.opts.attempts ?? 6;
        if (n < attempts && !this.closed) {
          const t = setTimeout(
            () => (this.timers.delete(t), this.attempt(d, a, n + 1)),
            backoffMs(n, this.opts.retryBaseMs ?? 1000),
          );
          this.timers.set(t, { d, a, n, error: err.message });
          count('retried');
          this.opts.log.warn({ destination: d.name, attempt: n, err: err.message }, 'alert not delivered; will retry');
          return;
        }
        count('given-up');
        this.deadLetter(d, a, err.message, n);
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async post(d: AlertDestination, a: Alert): Promise<void> {
    const env = this.opts.env ?? process.env;
    const secret = d.secretEnv ? env[d.secretEnv] : undefined;
    if (d.secretEnv && !secret) throw new Error(`environment variable ${d.secretEnv} is not set`);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    // PagerDuty's key goes in the body; other destinations get it as a bearer token.
    if (secret && d.format !== 'pagerduty') headers.authorization = `Bearer ${secret}`;
    const r = await fetch(d.url, {
      method: 'POST',
      headers,
      body: JSON.stringify(alertBody(d, a, secret)),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000),
    });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
  }

  /**
   * The dead-letter log holds alerts (region names, operators' reasons) and where they were going:
   * only its owner may read it (0600, also when it existed with looser modes), and a webhook URL
   * is written without what carries its secret (user info, path, query: Slack's and many others'
   * tokens are in the path). The destination's name says which one it was.
   */
  private deadLetter(d: AlertDestination, a: Alert, error: string, attempts: number): void {
    const line = JSON.stringify({
      destination: d.name,
      url: redactUrl(d.url),
      attempts,
      error,
      ...a,
      at: new Date(a.at).toISOString(),
    });
    try {
      const fd = openSync(this.opts.deadLetter, 'a', 0o600);
      try {
        if ((fstatSync(fd).mode & 0o077) !== 0) fchmodSync(fd, 0o600);
        writeSync(fd, `${line}\n`);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message, alert: line }, 'alert dead-letter log not writable');
    }
    this.opts.log.error({ destination: d.name, attempts, error }, 'alert given up; written to the dead-letter log');
  }

  /** Stops retrying (what is still pending goes to the dead-letter log) and waits for posts in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [t, r] of this.timers) {
      clearTimeout(t);
      this.deadLetter(r.d, r.a, `${r.error} (process stopping)`, r.n);
    }
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }
}

/** A URL as it may be logged: scheme, host and port; user info, path and query stand for secrets. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const hidden = u.username || u.password || (u.pathname && u.pathname !== '/') || u.search;
    return `${u.protocol}//${u.host}${hidden ? '/[redacted]' : '/'}`;
  } catch {
    return '[unparseable URL]';
  }
}
