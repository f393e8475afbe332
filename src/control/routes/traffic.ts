// /api/v1/traffic: the DNS server's answer counters, read from its metrics endpoint (dns.metrics)
// for the console, which turns two readings into queries per second and each region's share.
// Counters, not rates: the reader picks the interval, and a restart shows as a counter that fell.
import type { FastifyInstance } from 'fastify';
import { doc } from '../api-schemas.js';
import type { ControlContext } from '../context.js';
import { urlHost } from '../../net/index.js';

export interface TrafficReading {
  /** Where the counters came from, or null with why not. */
  source: string | null;
  why?: string;
  at: number;
  /** Answers (NOERROR, steered) per region, and all responses per rcode, since the server started. */
  regions: Record<string, number>;
  rcodes: Record<string, number>;
}

/** Sums `gtm_dns_queries_total` from an exposition by region (NOERROR answers) and by rcode. */
export function trafficOf(exposition: string): Pick<TrafficReading, 'regions' | 'rcodes'> {
  const regions: Record<string, number> = {};
  const rcodes: Record<string, number> = {};
  for (const m of exposition.matchAll(/^gtm_dns_queries_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries(
      [...(m[1] as string).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    const n = Number(m[2]);
    if (!Number.isFinite(n)) continue;
    const rcode = labels.rcode ?? '';
    rcodes[rcode] = (rcodes[rcode] ?? 0) + n;
    if (rcode === 'NOERROR' && labels.region) regions[labels.region] = (regions[labels.region] ?? 0) + n;
  }
  return { regions, rcodes };
}

/** How long one reading of the DNS metrics serves every console tab (a tab polls each second). */
const READING_REUSE_MS = 1000;

export function trafficRoutes(app: FastifyInstance, ctx: ControlContext): void {
  // One scrape of the DNS metrics per second however many consoles are open: the reading (or
  // the one in flight) is shared.
  let shared: { at: number; reading: Promise<TrafficReading> } | undefined;
  app.get(
    '/api/v1/traffic',
    { config: { access: 'read' }, schema: doc("The DNS server's answer counters per region and per rcode") },
    async (): Promise<TrafficReading> => {
      const now = ctx.now();
      if (!shared || now - shared.at >= READING_REUSE_MS) shared = { at: now, reading: readTraffic(ctx, now) };
      return shared.reading;
    },
  );
}

async function readTraffic(ctx: ControlContext, at: number): Promise<TrafficReading> {
  const m = ctx.config.dns.metrics;
  if (!m) return { source: null, why: 'dns.metrics is not set in the config', at, regions: {}, rcodes: {} };
  // A wildcard listen address is reached on loopback.
  const source = `http://${urlHost(m.host)}:${m.port}/metrics`;
  try {
    const res = await fetch(source, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) return { source, why: `the DNS metrics answered ${res.status}`, at, regions: {}, rcodes: {} };
    return { source, at, ...trafficOf(await res.text()) };
  } catch (err) {
    return { source, why: `the DNS metrics cannot be read: ${(err as Error).message}`, at, regions: {}, rcodes: {} };
  }
}
