// Entry of a DNS worker process (forked by the primary in run.ts with this file as `exec`).
// It answers queries and nothing else: the config, region state and weights all arrive from
// the primary over IPC, so a worker started after a refused reload serves the config the
// primary serves, never a file on disk that the primary rejected.
import cluster from 'node:cluster';
import { GeoResolver } from '../geo/index.js';
import {
  AggregatorRegistry,
  cacheMetrics,
  createDnsMetrics,
  createLogger,
  globalRegistry,
} from '../observability/index.js';
import { InMemoryRegionState } from '../state/index.js';
import { Authority } from './authority.js';
import type { FromWorker, ToWorker } from './ipc.js';
import { DnsServer } from './server.js';

const send = (m: FromWorker) => process.send?.(m);

function runWorker(): void {
  const log = createLogger('gtm-dns-worker');
  // Answers the primary's prom-client aggregation requests (the listener is installed by
  // constructing an AggregatorRegistry in a worker; without it /metrics timed out).
  new AggregatorRegistry();
  const state = new InMemoryRegionState();
  let authority: Authority | undefined;
  let server: DnsServer | undefined;
  let geoPath: string | undefined;
  let geo: GeoResolver | undefined;

  const start = async (m: Extract<ToWorker, { type: 'init' }>) => {
    state.load(m.snapshot);
    state.setServiceWeights(m.weights);
    geoPath = m.config.geo.database;
    geo = GeoResolver.open(geoPath);
    authority = new Authority(m.config, geo, state, m.zones);
    server = new DnsServer(authority, {
      host: m.host,
      port: m.port,
      tcpIdleMs: m.config.dns.tcpIdleMs,
      tcpMessageMs: m.config.dns.tcpMessageMs,
      maxTcpConnections: m.config.dns.tcpMaxConnections,
      maxTcpPerSource: m.config.dns.tcpMaxPerSource,
      queryLogSample: m.config.dns.queryLogSample,
      rrl: m.config.dns.rrl,
      missBudget: m.config.dns.missBudget,
      logger: log,
      metrics: createDnsMetrics(globalRegistry),
    });
    cacheMetrics(globalRegistry, () => authority?.cacheStats() ?? []);
    const { port } = await server.start();
    send({ type: 'ready', port });
  };

  process.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'init':
        start(m).catch((err: Error) => {
          // The primary sees the exit, logs it and starts another worker.
          log.error({ err }, 'dns worker could not start');
          process.exit(1);
        });
        return;
      case 'state':
        return state.load(m.snapshot);
      case 'weights':
        return state.setServiceWeights(m.weights);
      case 'reload':
        try {
          if (!authority) throw new Error('reload before init');
          if (m.reopenGeo || m.config.geo.database !== geoPath) {
            geo = GeoResolver.open(m.config.geo.database);
            geoPath = m.config.geo.database;
          }
          authority.reload(m.config, geo, m.zones);
          server?.applyLimits(m.config.dns);
          send({ type: 'reloaded', ok: true });
        } catch (err) {
          log.error({ err }, 'reload failed in worker; keeping the previous configuration');
          send({ type: 'reloaded', ok: false, error: (err as Error).message });
        }
        return;
    }
  });
  // Only now can messages be received (an ESM entry attaches its listener late): ask for init.
  send({ type: 'hello' });
  process.on('SIGTERM', () => void (server ? server.close() : Promise.resolve()).then(() => process.exit(0)));
  // A primary that died (even by SIGKILL) must not leave workers answering on its port.
  process.on('disconnect', () => process.exit(0));
}

if (cluster.isWorker) runWorker();
