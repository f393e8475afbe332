// Runs the DNS server as a primary process with one worker per core sharing the UDP and
// TCP ports. The primary owns config reloads (src/dns/reloader.ts), region state and the
// metrics endpoint; workers (src/dns/worker-pool.ts) only answer. A reload is validated once in
// the primary and then swapped in by each worker between two queries, so none is dropped.
import cluster from 'node:cluster';
import { batchedUdpAddon } from './batched-udp.js';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { availableParallelism } from 'node:os';
import { parseConfigText, readConfigText, type Config } from '../config/index.js';
import { GeoResolver } from '../geo/index.js';
import {
  AggregatorRegistry,
  Gauge,
  createDnsPrimaryMetrics,
  createLogger,
  serveMetrics,
  type DnsPrimaryMetrics,
  type Logger,
  Registry,
} from '../observability/index.js';
import {
  InMemoryRegionState,
  NoStore,
  RegionFeed,
  openStore,
  regionStateMetrics,
  observeStore,
  feedMetrics,
} from '../state/index.js';
import { emit } from '../contract/index.js';
import { loadZoneKeys, signingUntil } from '../dnssec/index.js';
import { prepareForWorkers, type CompiledZone } from './zone.js';
import { SerialKeeper } from './serials.js';
import { followRegionsForTransfers, markTransferRegions } from './renditions.js';
import { WorkerPool, type Prepared } from './worker-pool.js';
import { Reloader } from './reloader.js';
import { Notifier } from './notify.js';
import { Secondaries } from './secondary.js';

export interface RunOptions {
  configPath: string;
  listen?: { host: string; port: number };
  workers?: number;
}

export interface DnsHandle {
  port: number;
  reload(): Promise<boolean>;
  close(): Promise<void>;
}

export async function runDns(opts: RunOptions): Promise<DnsHandle> {
  if (cluster.isWorker) throw new Error('runDns runs in the primary; workers start from worker.js');
  // A reload asked for while the server starts (a config run right after `systemctl start`) must
  // not kill it (Node's default for SIGHUP): it is kept and applied once the start is done.
  let hupDuringStart = false;
  const onEarlyHup = () => (hupDuringStart = true);
  process.on('SIGHUP', onEarlyHup);
  const log = createLogger('gtm-dns');
  // The text the running config comes from: a reload compares what it reads with this.
  const startText = readConfigText(opts.configPath);
  let config = parseConfigText(startText, opts.configPath);
  const state = InMemoryRegionState.fromConfig(config);
  // A zone changed without a reload (a secondary zone transferred, expired or back): compiled
  // again; before the workers start, they take it at init, after it is rolled out.
  let rollOut = async (next: Prepared, _reopenGeo: boolean) => void (prepared = next);
  const secondaries = new Secondaries(log, () => void rollOut(prepare(config), false));
  // Compiled once here for every worker (and again on reload, or when a transfer rendition
  // follows the regions up).
  const prepare = preparer(config, state, secondaries);
  secondaries.follow(config);
  let prepared = prepare(config);
  GeoResolver.open(config.geo.database, config.geo.asnDatabase); // fail fast on a bad database path
  const zonesNow = () => prepared.zones;
  const metrics = primaryMetrics(() => config, state, zonesNow);
  const { store, feed } = await followSharedState(config, state, log, metrics);

  const { pool, port } = await startWorkers(opts, config, state, log, () => prepared);
  pool.onNotify = (zone, from) => secondaries.notified(zone, from);
  // Secondaries hear of each zone at start and whenever its serial changes.
  const notifier = new Notifier(log);
  notifier.zonesChanged(config);
  rollOut = async (next: Prepared, reopenGeo: boolean) => {
    prepared = next;
    await pool.rollOut({ type: 'reload', ...prepared, reopenGeo });
    notifier.zonesChanged(config);
  };
  const stopFollowing = followRegionsForTransfers(
    () => config,
    state,
    () => rollOut(prepare(config), false),
  );

  const reloader = new Reloader(
    opts.configPath,
    log,
    metrics,
    {
      current: () => config,
      prepare,
      async apply(next: Config, nextPrepared: Prepared, reopenGeo: boolean) {
        config = next;
        state.addMissing(config);
        secondaries.follow(config);
        // The merge runs again on the new config: a region's configured state applies at once.
        feed.setConfig(config);
        await rollOut(nextPrepared, reopenGeo);
      },
    },
    config,
    startText,
  );
  await reloader.listen(config.geo.reloadCron);
  process.off('SIGHUP', onEarlyHup);
  if (hupDuringStart) void reloader.reload('SIGHUP during start-up');
  const metricsServer = await serveDnsMetrics(config, metrics, log);

  const close = async () => {
    stopFollowing();
    secondaries.stop();
    notifier.stop();
    feed.stop();
    reloader.close();
    await store.close();
    metricsServer?.close();
    await pool.close();
  };
  return { port, reload: () => reloader.reload('api'), close };
}

/** The worker processes, listening (their config, zones and region state come from the primary). */
async function startWorkers(
  opts: RunOptions,
  config: Config,
  state: InMemoryRegionState,
  log: Logger,
  prepared: () => Prepared,
): Promise<{ pool: WorkerPool; port: number }> {
  const listen = { ...(opts.listen ?? config.dns.listen) };
  // Said here, once: a worker that cannot start would be restarted without end.
  if (config.dns.io === 'batched') {
    const udp = batchedUdpAddon();
    if (!udp.addon) throw new Error(`dns.io is batched, but ${udp.why}`);
  }
  const count = opts.workers ?? (config.dns.workers || availableParallelism());
  // Port 0 with several workers: the cluster keys shared UDP handles by the asked port, so
  // every worker must ask for the same real one. Pick it here.
  if (listen.port === 0 && count > 1) listen.port = await freeUdpPort(listen.host);
  const pool = new WorkerPool(log, listen, state, prepared);
  const port = await pool.start(count);
  emit(
    log,
    'dns.listening',
    { listen: `${listen.host}:${port}`, workers: count, config: opts.configPath },
    'dns server listening (udp+tcp)',
  );
  return { pool, port };
}

/**
 * Compiles a config for the workers: first the copies of its secondary zones, the regions its
 * `healthy` transfer renditions are made with, then its automatic serials (kept where the first
 * config says).
 */
function preparer(first: Config, state: InMemoryRegionState, secondaries: Secondaries): (c: Config) => Prepared {
  const serials = new SerialKeeper(first.dns.serialFile);
  // Without a configured cookie secret, one for this process: its workers share it.
  const cookieSecret = Uint8Array.from(randomBytes(16));
  return (c) => {
    c.dns.cookieSecret ??= cookieSecret;
    secondaries.fill(c);
    markTransferRegions(c, state);
    serials.assign(c);
    return prepareForWorkers(c, loadZoneKeys(c));
  };
}

/**
 * Region state, from one merge whether or not there is a shared store: agents' heartbeats,
 * vantage reports and operators' overrides when there is one, else the config alone.
 */
async function followSharedState(config: Config, state: InMemoryRegionState, log: Logger, metrics: DnsPrimaryMetrics) {
  const store = config.control ? await openStore(config.control.store, log) : new NoStore();
  const feed = new RegionFeed(config, store, state, log);
  observeStore(store, log, metrics.registry);
  feedMetrics(feed, metrics.registry);
  feed.start();
  // Answer from the stored state from the first query; if the store cannot be read in time,
  // start from the config (fail open) and follow the store when it answers.
  if (!(await feed.waitReady(3000)))
    log.warn(
      { store: config.control?.store },
      'shared state not readable yet; starting from the configured region states',
    );
  return { store, feed };
}

/** The primary's own metrics: region states and signing horizons (the workers' come aggregated). */
function primaryMetrics(config: () => Config, state: InMemoryRegionState, zones: () => CompiledZone[]) {
  const metrics = createDnsPrimaryMetrics();
  dnssecMetrics(metrics.registry, zones);
  regionStateMetrics(
    metrics.registry,
    () => config().regions.keys(),
    (r) => state.get(r),
    () => config().control?.flapDamping,
  );
  return metrics;
}

/** Each signed zone's signing horizon and signature validity, from the keys the workers sign with. */
function dnssecMetrics(registry: Registry, zones: () => CompiledZone[]): void {
  const signed = () => zones().filter((z) => z.keys && z.zone.dnssec);
  new Gauge({
    name: 'gtm_dnssec_signing_until_seconds',
    help: 'Until when a signed zone can be signed without a gap in its keys (Unix time; +Inf: no end planned)',
    labelNames: ['zone'],
    registers: [registry],
    collect() {
      this.reset();
      for (const z of signed()) this.set({ zone: z.zone.name }, signingUntil(z.keys ?? [], Date.now()) / 1000);
    },
  });
  new Gauge({
    name: 'gtm_dnssec_signature_validity_seconds',
    help: 'How long a signature made now stays valid (signature_validity_s)',
    labelNames: ['zone'],
    registers: [registry],
    collect() {
      this.reset();
      for (const z of signed()) this.set({ zone: z.zone.name }, z.zone.dnssec?.validityS ?? 0);
    },
  });
}

/** `/metrics`: the primary's own metrics and the workers' summed. */
async function serveDnsMetrics(config: Config, metrics: DnsPrimaryMetrics, log: Logger) {
  if (!config.dns.metrics) return undefined;
  const aggregator = new AggregatorRegistry();
  const server = await serveMetrics(config.dns.metrics.host, config.dns.metrics.port, async () => {
    const merged = await aggregator.clusterMetrics();
    const own = await metrics.registry.metrics();
    return { contentType: aggregator.contentType, body: `${own}\n${merged}` };
  });
  const a = server.address() as { address: string; port: number };
  log.info({ metrics: `http://${a.address}:${a.port}/metrics` }, 'metrics endpoint listening');
  return server;
}

/** A UDP port free on `host` now (the workers bind it a moment later; TCP follows UDP's port). */
function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    s.once('error', reject);
    s.bind(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
