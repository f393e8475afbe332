// Public entry of the observability capability: pino JSON logs and prom-client metrics,
// plus a tiny HTTP endpoint that serves a registry (aggregated across worker processes
// when it is the cluster's).
import { createServer, type Server } from 'node:http';
import { pino, type Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, AggregatorRegistry, collectDefaultMetrics } from 'prom-client';
import { AnswerTimeHistogram } from './answer-time.js';

export type { Logger };

export function createLogger(name: string, level = process.env.GTM_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid, name } });
}

/** What a DNS worker counts (the primary sums the workers' registries into one family each). */
export interface DnsMetrics {
  registry: Registry;
  queries: Counter<'qtype' | 'rcode' | 'policy' | 'region' | 'service'>;
  answerSeconds: AnswerTimeHistogram;
  dropped: Counter<'reason'>;
  truncated: Counter;
  errors: Counter<'where'>;
  /** UDP responses held back by response rate limiting: slipped (sent truncated) or dropped. */
  rateLimited: Counter<'kind' | 'action'>;
  /** Memo misses past the worker's per-turn budget: answered truncated or dropped. */
  overBudget: Counter<'action'>;
  /** Seconds a worker spent saturated (summed over workers: rate() is how many were, on average). */
  saturatedSeconds: Counter;
  /** Zone transfer requests (AXFR, IXFR) answered: sent, or refused. */
  transfers: Counter<'result'>;
  /** Queries with a COOKIE option: a server cookie of ours that held (valid), or a new one given. */
  cookies: Counter<'result'>;
}

/** One cache's counters, as the cache keeps them (monotonic, per process). */
export interface CacheCounters {
  cache: string;
  stats: { hits: number; misses: number; evictions: number; size: number };
}

/**
 * What the DNS primary counts itself. Disjoint from the workers' families: one exposition holds
 * each family once (Prometheus refuses a family that appears twice).
 */
export interface DnsPrimaryMetrics {
  registry: Registry;
  reloads: Counter<'result'>;
}

export function createDnsPrimaryMetrics(registry = new Registry()): DnsPrimaryMetrics {
  processMetrics(registry);
  return {
    registry,
    reloads: new Counter({
      name: 'gtm_dns_reloads_total',
      help: 'Configuration reloads by result',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}

/**
 * A counter that follows counts kept elsewhere (monotonic, per process): each scrape adds what
 * each labelled count grew since the last. A count below the last one is a new source (a reload
 * or a restart of what keeps it): all of it is new.
 */
function followingCounter<L extends string>(
  registry: Registry,
  meta: { name: string; help: string; labelNames?: readonly L[] },
  read: () => [Partial<Record<L, string>>, number][],
): void {
  const seen = new Map<string, number>();
  new Counter<L>({
    ...meta,
    labelNames: meta.labelNames ?? [],
    registers: [registry],
    collect() {
      for (const [labels, now] of read()) {
        const key = JSON.stringify(labels);
        const was = seen.get(key) ?? 0;
        const grew = now >= was ? now - was : now;
        if (grew > 0) this.inc(labels, grew);
        seen.set(key, now);
      }
    },
  });
}

/** Reads of the shared state that failed (a corrupt file), counted by the store itself. */
export function stateReadErrorsMetric(registry: Registry, count: () => number): void {
  followingCounter(
    registry,
    {
      name: 'gtm_state_read_errors_total',
      help: 'Reads of the shared state file that failed (corrupt or not a state document)',
    },
    () => [[{}, count()]],
  );
}

/** Shared-state entries that broke the contract and were skipped, counted by the store. */
export function invalidEntriesMetric(registry: Registry, count: () => number): void {
  followingCounter(
    registry,
    {
      name: 'gtm_state_invalid_entries_total',
      help: 'Shared state entries that broke the contract and were skipped (the last valid one kept)',
    },
    () => [[{}, count()]],
  );
}

export function createDnsMetrics(registry = new Registry()): DnsMetrics {
  return {
    registry,
    queries: new Counter({
      name: 'gtm_dns_queries_total',
      help: 'DNS queries answered, by type, rcode, policy, chosen region and steered name (service key)',
      labelNames: ['qtype', 'rcode', 'policy', 'region', 'service'],
      registers: [registry],
    }),
    answerSeconds: new AnswerTimeHistogram(
      'gtm_dns_answer_seconds',
      'Time from receiving a query to handing the answer to the socket',
      'transport',
      [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01],
      registry,
    ),
    dropped: new Counter({
      name: 'gtm_dns_dropped_total',
      help: 'Messages dropped without an answer',
      labelNames: ['reason'],
      registers: [registry],
    }),
    truncated: new Counter({
      name: 'gtm_dns_truncated_total',
      help: 'UDP answers sent with TC set',
      registers: [registry],
    }),
    errors: new Counter({
      name: 'gtm_dns_internal_errors_total',
      help: 'Unexpected exceptions caught while answering',
      labelNames: ['where'],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'gtm_dns_rate_limited_total',
      help: 'UDP responses held back by response rate limiting, by kind of response and action (slipped: sent truncated)',
      labelNames: ['kind', 'action'],
      registers: [registry],
    }),
    overBudget: new Counter({
      name: 'gtm_dns_over_budget_total',
      help: 'Queries that would have built an answer past the worker miss budget, answered truncated or dropped',
      labelNames: ['action'],
      registers: [registry],
    }),
    saturatedSeconds: new Counter({
      name: 'gtm_dns_saturated_seconds_total',
      help: 'Seconds DNS workers spent saturated (event loop busy >= 90% of 100 ms): the miss budget applied and the UDP queue was held short; rate() is the number of saturated workers',
      registers: [registry],
    }),
    cookies: new Counter({
      name: 'gtm_dns_cookies_total',
      help: 'Queries with a DNS cookie (RFC 7873), by result: valid (our server cookie held; exempt from rate limiting) or new (a server cookie given)',
      labelNames: ['result'],
      registers: [registry],
    }),
    transfers: new Counter({
      name: 'gtm_dns_transfers_total',
      help: 'Zone transfer requests (AXFR, IXFR) answered over TCP, by result (sent, refused)',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}

/** dnstap frames written to the log and dropped because the disk fell behind (per worker, summed). */
export function dnstapMetrics(registry: Registry, read: () => { written: number; dropped: number }): void {
  followingCounter(
    registry,
    {
      name: 'gtm_dns_dnstap_frames_total',
      help: 'dnstap frames written, or dropped because the log fell behind (never an answer)',
      labelNames: ['result'],
    },
    () => {
      const now = read();
      return [
        [{ result: 'written' }, now.written],
        [{ result: 'dropped' }, now.dropped],
      ];
    },
  );
}

/**
 * The DNS caches' lookups (hit or miss), evictions and sizes, read from the caches at scrape time.
 * A falling hit rate with rising evictions is a flood of one-off names (cache churn).
 */
export function cacheMetrics(registry: Registry, read: () => CacheCounters[]): void {
  followingCounter(
    registry,
    {
      name: 'gtm_dns_cache_lookups_total',
      help: 'DNS cache lookups by cache (answers, clients, signatures) and result (hit, miss)',
      labelNames: ['cache', 'result'],
    },
    () =>
      read().flatMap(({ cache, stats }) => [
        [{ cache, result: 'hit' }, stats.hits],
        [{ cache, result: 'miss' }, stats.misses],
      ]),
  );
  followingCounter(
    registry,
    {
      name: 'gtm_dns_cache_evictions_total',
      help: 'Entries evicted from a full DNS cache (one-off entries first)',
      labelNames: ['cache'],
    },
    () => read().map(({ cache, stats }) => [{ cache }, stats.evictions]),
  );
  new Gauge({
    name: 'gtm_dns_cache_entries',
    help: 'Entries held in a DNS cache',
    labelNames: ['cache'],
    registers: [registry],
    collect() {
      for (const { cache, stats } of read()) this.set({ cache }, stats.size);
    },
  });
}

/**
 * The UDP I/O path of each worker and its socket layout (workers summed: the gauge counts workers
 * per path; dgram always reads the one socket the cluster shares) and, on the batched path, what
 * its sockets did: datagrams read, answers sent, answers the kernel refused,
 * waits for room to send (the socket buffer was full; reading pauses until it drains), joins of
 * workers standing by on the shared socket, and how many workers read it now (src/dns/udp-turns.ts).
 */
export function udpIoMetrics(
  registry: Registry,
  read: () => {
    path: 'batched' | 'dgram';
    sockets: 'shared' | 'per-worker';
    batched?: { read: number; sent: number; sendFailed: number; waitedToSend: number; joins: number; readers: number };
  },
): void {
  new Gauge({
    name: 'gtm_dns_udp_io_workers',
    help: 'DNS workers by UDP I/O path, batched (recvmmsg/sendmmsg addon) or dgram (Node), and sockets: shared or per-worker',
    labelNames: ['path', 'sockets'],
    registers: [registry],
    collect() {
      const now = read();
      for (const [path, sockets] of [
        ['batched', 'shared'],
        ['batched', 'per-worker'],
        ['dgram', 'shared'],
      ] as const)
        this.set({ path, sockets }, now.path === path && now.sockets === sockets ? 1 : 0);
    },
  });
  followingCounter(
    registry,
    {
      name: 'gtm_dns_udp_batched_total',
      help: 'Batched UDP path: datagrams read, answers sent, answers the kernel refused (send_failed), waits for send room, joins (a worker standing by on the shared socket began reading it)',
      labelNames: ['event'],
    },
    () => {
      const b = read().batched;
      if (!b) return [];
      return [
        [{ event: 'read' }, b.read],
        [{ event: 'sent' }, b.sent],
        [{ event: 'send_failed' }, b.sendFailed],
        [{ event: 'send_waits' }, b.waitedToSend],
        [{ event: 'joins' }, b.joins],
      ];
    },
  );
  new Gauge({
    name: 'gtm_dns_udp_readers',
    help: 'Batched UDP path: workers reading their socket now (on the shared socket, the one that leads and any helping it)',
    registers: [registry],
    collect() {
      this.set(read().batched?.readers ?? 0);
    },
  });
}

/**
 * The process's own metrics (CPU, memory, event loop, GC): prom-client's defaults without the
 * three gauges it names `..._total` (a counter's suffix: `promtool check metrics` refuses them).
 */
export function processMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
    registry.removeSingleMetric(name);
}

/** Serves one registry's GET /metrics (an agent's metrics listener, a probe's). */
export function serveRegistry(host: string, port: number, registry: Registry): Promise<Server> {
  return serveMetrics(host, port, async () => ({ contentType: registry.contentType, body: await registry.metrics() }));
}

/** Serves GET /metrics from `collect` (text exposition format). */
export function serveMetrics(
  host: string,
  port: number,
  collect: () => Promise<{ contentType: string; body: string }>,
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    collect().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

export { Counter, Gauge, Histogram, Registry, AggregatorRegistry, collectDefaultMetrics };
/** The default registry: in cluster workers, the one the primary's aggregator reads. */
export { register as globalRegistry } from 'prom-client';
