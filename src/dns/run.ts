// Runs the DNS server as a primary process with one worker per core sharing the UDP and
// TCP ports. The primary owns config reloads (SIGHUP, file change), region state and the
// metrics endpoint; workers only answer. A reload is validated once in the primary and
// then swapped in by each worker between two queries, so none is dropped.
import cluster, { type Worker } from 'node:cluster';
import cron from 'node-cron';
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname } from 'node:path';
import { loadConfigFile, parseConfigText, ConfigError, type Config, type RegionStatus } from '../config/index.js';
import { InMemoryRegionState, RegionFeed, openStore, type RegionSnapshot } from '../control/index.js';
import { GeoResolver } from '../geo/index.js';
import { AggregatorRegistry, createDnsMetrics, createLogger, globalRegistry, serveMetrics } from '../observability/index.js';
import { Authority } from './authority.js';
import { DnsServer } from './server.js';

export interface RunOptions {
  configPath: string;
  listen?: { host: string; port: number };
  workers?: number;
}

type ToWorker = { type: 'reload'; text: string; reopenGeo?: boolean } | { type: 'state'; snapshot: RegionSnapshot } | { type: 'weights'; weights: Record<string, number> };
type FromWorker = { type: 'ready'; port: number } | { type: 'reloaded'; ok: boolean; error?: string };

export interface DnsHandle {
  port: number;
  reload(): Promise<boolean>;
  setRegion(region: string, change: { status?: RegionStatus; weight?: number | null; reason?: string }): void;
  close(): Promise<void>;
}

function seedState(config: Config): InMemoryRegionState {
  return new InMemoryRegionState([...config.regions.values()].map((r) => [r.name, { status: r.status }]));
}

export async function runDns(opts: RunOptions): Promise<DnsHandle | undefined> {
  if (cluster.isWorker) {
    await runWorker(opts);
    return undefined;
  }
  return runPrimary(opts);
}

async function runPrimary(opts: RunOptions): Promise<DnsHandle> {
  const log = createLogger('gtm-dns');
  let config = loadConfigFile(opts.configPath);
  GeoResolver.open(config.geo.database); // fail fast on a bad database path
  const listen = opts.listen ?? config.dns.listen;
  const count = opts.workers ?? (config.dns.workers || availableParallelism());
  const state = seedState(config);
  const metrics = createDnsMetrics();
  const aggregator = new AggregatorRegistry();
  let closing = false;
  let port = listen.port;

  const workers = new Set<Worker>();
  const send = (msg: ToWorker) => {
    for (const w of workers) if (w.isConnected()) w.send(msg);
  };
  const fork = (): Promise<number> => {
    const w = cluster.fork({ GTM_DNS_LISTEN: `${listen.host}|${port}` });
    workers.add(w);
    w.on('exit', (code, signal) => {
      workers.delete(w);
      if (!closing) {
        log.error({ worker: w.process.pid, code, signal }, 'dns worker exited; starting a new one');
        void fork().catch((err) => log.error({ err }, 'could not restart a dns worker'));
      }
    });
    return new Promise((resolve, reject) => {
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          w.send({ type: 'state', snapshot: state.snapshot() } satisfies ToWorker);
          w.send({ type: 'weights', weights: state.allServiceWeights() } satisfies ToWorker);
          resolve(m.port);
        }
      });
      w.once('exit', () => reject(new Error('dns worker exited during start-up (see its log)')));
    });
  };

  // Region health from the shared store (agents' heartbeats, operators' overrides).
  const store = config.control ? await openStore(config.control.store) : undefined;
  const feed = store ? new RegionFeed(config, store, state, log) : undefined;
  feed?.start();
  if (feed) {
    // Answer from the stored state from the first query; if the store cannot be read in
    // time, start from the config (fail open) and follow the store when it answers.
    if (!(await feed.waitReady(3000))) log.warn({ store: config.control?.store }, 'shared state not readable yet; starting from the configured region states');
  }

  // The first worker picks the port when 0 was asked for; the rest share it.
  port = await fork();
  await Promise.all(Array.from({ length: count - 1 }, fork));
  state.subscribe(() => send({ type: 'state', snapshot: state.snapshot() }));
  state.onServiceWeights((weights) => send({ type: 'weights', weights }));
  log.info({ listen: `${listen.host}:${port}`, workers: count, config: opts.configPath }, 'dns server listening (udp+tcp)');

  const reload = async (why: string, reopenGeo = false): Promise<boolean> => {
    let text: string;
    try {
      text = readFileSync(opts.configPath, 'utf8');
      const next = parseConfigText(text, opts.configPath);
      GeoResolver.open(next.geo.database);
      config = next;
    } catch (err) {
      metrics.reloads.inc({ result: 'refused' });
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      log.error({ why, problems }, 'new configuration refused; still serving the previous one');
      return false;
    }
    for (const r of config.regions.values()) if (!state.get(r.name)) state.set(r.name, { status: r.status });
    feed?.setConfig(config);
    send({ type: 'reload', text, reopenGeo });
    metrics.reloads.inc({ result: 'applied' });
    log.info({ why }, 'configuration reloaded');
    return true;
  };

  const onHup = () => void reload('SIGHUP', true);
  // A geo database updated in place (e.g. weekly GeoLite2) is re-read on its schedule.
  const geoTask = config.geo.reloadCron ? cron.schedule(config.geo.reloadCron, () => void reload('scheduled geo database reload', true), { name: 'geo-reload' }) : undefined;
  process.on('SIGHUP', onHup);
  // Watch the directory: editors and config managers replace files by rename.
  let debounce: NodeJS.Timeout | undefined;
  let lastText = readFileSync(opts.configPath, 'utf8');
  const watcher: FSWatcher = watch(dirname(opts.configPath), (_event, file) => {
    if (file !== null && file !== basename(opts.configPath)) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      let text = '';
      try {
        text = readFileSync(opts.configPath, 'utf8');
      } catch {
        return; // mid-rename; the next event will catch up
      }
      if (text === lastText) return;
      lastText = text;
      void reload('file changed');
    }, 200);
  });

  const metricsServer = config.dns.metrics
    ? await serveMetrics(config.dns.metrics.host, config.dns.metrics.port, async () => {
        const merged = await aggregator.clusterMetrics();
        const own = await metrics.registry.metrics();
        return { contentType: aggregator.contentType, body: `${own}\n${merged}` };
      })
    : undefined;

  if (metricsServer) {
    const a = metricsServer.address() as { address: string; port: number };
    log.info({ metrics: `http://${a.address}:${a.port}/metrics` }, 'metrics endpoint listening');
  }

  const close = async () => {
    closing = true;
    feed?.stop();
    void geoTask?.stop();
    await store?.close();
    process.off('SIGHUP', onHup);
    watcher.close();
    metricsServer?.close();
    await Promise.all(
      [...workers].map(
        (w) =>
          new Promise<void>((r) => {
            w.once('exit', () => r());
            w.kill('SIGTERM');
          }),
      ),
    );
  };
  return {
    port,
    reload: () => reload('api'),
    setRegion: (region, change) => {
      state.set(region, change);
      log.info({ region, ...change }, 'region state changed');
    },
    close,
  };
}

async function runWorker(opts: RunOptions): Promise<void> {
  const log = createLogger('gtm-dns-worker');
  const [host, portText] = (process.env.GTM_DNS_LISTEN ?? '').split('|');
  let config = loadConfigFile(opts.configPath);
  let geo = GeoResolver.open(config.geo.database);
  const state = seedState(config);
  const authority = new Authority(config, geo, state);
  const metrics = createDnsMetrics(globalRegistry);
  const server = new DnsServer(authority, {
    host: host || config.dns.listen.host,
    port: Number(portText ?? config.dns.listen.port),
    tcpIdleMs: config.dns.tcpIdleMs,
    queryLogSample: config.dns.queryLogSample,
    logger: log,
    metrics,
  });
  const { port } = await server.start();
  process.on('message', (m: ToWorker) => {
    if (m.type === 'state') state.load(m.snapshot);
    if (m.type === 'weights') state.setServiceWeights(m.weights);
    if (m.type === 'reload') {
      try {
        const next = parseConfigText(m.text, opts.configPath);
        if (m.reopenGeo || next.geo.database !== config.geo.database) geo = GeoResolver.open(next.geo.database);
        authority.reload(next, geo);
        config = next;
        process.send?.({ type: 'reloaded', ok: true } satisfies FromWorker);
      } catch (err) {
        log.error({ err }, 'reload failed in worker; keeping the previous configuration');
        process.send?.({ type: 'reloaded', ok: false, error: (err as Error).message } satisfies FromWorker);
      }
    }
  });
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
  // A primary that died (even by SIGKILL) must not leave workers answering on its port.
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', port } satisfies FromWorker);
}

