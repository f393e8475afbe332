// Entry of a DNS worker process (forked by the primary in run.ts with this file as `exec`).
// It answers queries and nothing else: the config, region state and weights all arrive from
// the primary over IPC, so a worker started after a refused reload serves the config the
// primary serves, never a file on disk that the primary rejected.
import cluster from 'node:cluster';
import { hostname } from 'node:os';
import type { Config } from '../config/index.js';
import { GeoResolver } from '../geo/index.js';
import {
  AggregatorRegistry,
  cacheMetrics,
  createDnsMetrics,
  dnstapMetrics,
  createLogger,
  globalRegistry,
  udpIoMetrics,
  type Logger,
} from '../observability/index.js';
import { packageVersion } from '../runtime/index.js';
import { InMemoryRegionState } from '../state/index.js';
import { Authority } from './authority.js';
import type { FromWorker, ToWorker } from './ipc.js';
import { DnsServer } from './server.js';
import { DnstapWriter } from './tap-writer.js';

const send = (m: FromWorker) => process.send?.(m);

/** The listeners of this worker, with its limits and (when configured) its own dnstap file. */
function serverFor(m: Extract<ToWorker, { type: 'init' }>, authority: Authority, log: Logger): DnsServer {
  const dns = m.config.dns;
  const tap = dns.dnstap;
  const writer = tap
    ? new DnstapWriter(`${tap.file}.w${cluster.worker?.id ?? 0}`, tap.bufferBytes, (err) =>
        log.error({ err }, 'dnstap log failed; answering goes on without it'),
      )
    : undefined;
  if (writer) dnstapMetrics(globalRegistry, () => writer);
  return new DnsServer(authority, {
    host: m.host,
    port: m.port,
    also: dns.alsoListen,
    tcpIdleMs: dns.tcpIdleMs,
    tcpMessageMs: dns.tcpMessageMs,
    maxTcpConnections: dns.tcpMaxConnections,
    maxTcpPerSource: dns.tcpMaxPerSource,
    udpReceiveBuffer: dns.udpReceiveBuffer,
    udpReceiveBufferSaturated: dns.udpReceiveBufferSaturated,
    udpIo: dns.io,
    udpSockets: dns.udpSockets,
    maxUdpSize: dns.maxUdpSize,
    queryLogSample: dns.queryLogSample,
    rrl: dns.rrl,
    missBudget: dns.missBudget,
    tap: writer && {
      writer,
      identity: Buffer.from(tap?.identity ?? hostname()),
      version: Buffer.from(`gtm ${packageVersion()}`),
    },
    logger: log,
    metrics: createDnsMetrics(globalRegistry),
  });
}

function runWorker(): void {
  const log = createLogger('gtm-dns-worker');
  // Answers the primary's prom-client aggregation requests (the listener is installed by
  // constructing an AggregatorRegistry in a worker; without it /metrics timed out).
  new AggregatorRegistry();
  const state = new InMemoryRegionState();
  let authority: Authority | undefined;
  let server: DnsServer | undefined;
  /** The geo settings the open data was read for (location and AS data). */
  let geoKey: string | undefined;
  const geoKeyOf = (c: Config) => `${c.geo.database ?? ''}|${c.geo.asnDatabase ?? ''}`;
  let geo: GeoResolver | undefined;

  const start = async (m: Extract<ToWorker, { type: 'init' }>) => {
    state.load(m.snapshot);
    state.setServiceWeights(m.weights);
    geoKey = geoKeyOf(m.config);
    geo = GeoResolver.open(m.config.geo.database, m.config.geo.asnDatabase);
    authority = new Authority(m.config, geo, state, m.zones);
    authority.onNotify = (zone, from) => send({ type: 'notify', zone, from });
    server = serverFor(m, authority, log);
    cacheMetrics(globalRegistry, () => authority?.cacheStats() ?? []);
    const listening = server;
    udpIoMetrics(globalRegistry, () => ({
      path: listening.udpPath(),
      sockets: listening.udpSockets(),
      batched: listening.batchedStats(),
    }));
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
          if (m.reopenGeo || geoKeyOf(m.config) !== geoKey) {
            geo = GeoResolver.open(m.config.geo.database, m.config.geo.asnDatabase);
            geoKey = geoKeyOf(m.config);
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
