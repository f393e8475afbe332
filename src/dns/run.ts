// Runs the DNS server as a primary process with one worker per core sharing the UDP and
// TCP ports. The primary owns config reloads (SIGHUP, file change), region state and the
// metrics endpoint; workers only answer. A reload is validated once in the primary and
// then swapped in by each worker between two queries, so none is dropped.
import cluster, { type Worker } from 'node:cluster';
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, parseConfigText, readConfigText, ConfigError } from '../config/index.js';
import { GeoResolver } from '../geo/index.js';
import { AggregatorRegistry, createDnsMetrics, createLogger, serveMetrics } from '../observability/index.js';
import { FileStateStore, InMemoryRegionState, RegionFeed, emit, openStore, watchStateReads } from '../state/index.js';
import { prepareForWorkers } from './authority.js';
import { loadZoneKeys } from '../dnssec/key-files.js';
import type { FromWorker, ToWorker } from './ipc.js';

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

/** Workers run their own entry (never the CLI) and get Maps and byte arrays over IPC as they are. */
const WORKER_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'worker.js');

export async function runDns(opts: RunOptions): Promise<DnsHandle> {
  if (cluster.isWorker) throw new Error('runDns runs in the primary; workers start from worker.js');
  return runPrimary(opts);
}

async function runPrimary(opts: RunOptions): Promise<DnsHandle> {
  const log = createLogger('gtm-dns');
  let config = loadConfigFile(opts.configPath);
  // Compiled once here for every worker (and again only on reload).
  let prepared = prepareForWorkers(config, loadZoneKeys(config));
  GeoResolver.open(config.geo.database); // fail fast on a bad database path
  const listen = opts.listen ?? config.dns.listen;
  const count = opts.workers ?? (config.dns.workers || availableParallelism());
  const state = InMemoryRegionState.fromConfig(config);
  cluster.setupPrimary({
    exec: WORKER_ENTRY,
    args: [],
    serialization: 'advanced',
    // A worker's garbage is short-lived (one query's objects): a 4 MB young generation instead of
    // V8's default 16 MB keeps ~40 MB less resident per worker at the same CPU per query (README,
    // Speed). An operator's own --max-semi-space-size wins.
    execArgv: process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))
      ? process.execArgv
      : [...process.execArgv, '--max-semi-space-size=4'],
  });
  const metrics = createDnsMetrics();
  const aggregator = new AggregatorRegistry();
  let closing = false;
  // Port 0 with several workers: the cluster keys shared UDP handles by the asked port, so
  // every worker must ask for the same real one. Pick it here.
  let port = listen.port === 0 && count > 1 ? await freeUdpPort(listen.host) : listen.port;

  const workers = new Set<Worker>();
  const send = (msg: ToWorker) => {
    for (const w of workers) if (w.isConnected()) w.send(msg);
  };
  // Every worker starts from the primary's current, validated config (never the file).
  const fork = (): Promise<number> => {
    const w = cluster.fork();
    w.on('exit', (code, signal) => {
      workers.delete(w);
      if (!closing) {
        emit(
          log,
          'dns.worker.exited',
          { worker: w.process.pid ?? -1, code, signal },
          'dns worker exited; starting a new one',
          'error',
        );
        setTimeout(() => void fork().catch((err) => log.error({ err }, 'could not restart a dns worker')), 100);
      }
    });
    return new Promise((resolve, reject) => {
      w.on('message', (m: FromWorker) => {
        // The worker listens now (messages sent earlier would be lost): it gets the current
        // config and state, and from here on every change, in order.
        if (m.type === 'hello') {
          w.send({
            type: 'init',
            ...prepared,
            host: listen.host,
            port,
            snapshot: state.snapshot(),
            weights: state.allServiceWeights(),
          } satisfies ToWorker);
          workers.add(w);
        }
        if (m.type === 'ready') {
          emit(log, 'dns.worker.ready', { worker: w.process.pid ?? -1 }, 'dns worker answering');
          resolve(m.port);
        }
      });
      w.once('exit', () => reject(new Error('dns worker exited during start-up (see its log)')));
    });
  };

  // Region health from the shared store (agents' heartbeats, operators' overrides).
  const store = config.control ? await openStore(config.control.store) : undefined;
  const feed = store ? new RegionFeed(config, store, state, log) : undefined;
  if (store instanceof FileStateStore) watchStateReads(store, log, metrics.registry);
  feed?.start();
  if (feed) {
    // Answer from the stored state from the first query; if the store cannot be read in
    // time, start from the config (fail open) and follow the store when it answers.
    if (!(await feed.waitReady(3000)))
      log.warn(
        { store: config.control?.store },
        'shared state not readable yet; starting from the configured region states',
      );
  }

  // The first worker picks the port when 0 was asked for; the rest share it.
  port = await fork();
  await Promise.all(Array.from({ length: count - 1 }, fork));
  state.subscribe(() => send({ type: 'state', snapshot: state.snapshot() }));
  state.onServiceWeights((weights) => send({ type: 'weights', weights }));
  emit(
    log,
    'dns.listening',
    { listen: `${listen.host}:${port}`, workers: count, config: opts.configPath },
    'dns server listening (udp+tcp)',
  );

  /**
   * A new config goes to one worker at a time: while one swaps (deserialises the compiled zones
   * on its own event loop), the others keep reading the shared sockets, so a large reload stalls
   * no query (with two or more workers). Reloads queue behind each other.
   */
  let rollouts = Promise.resolve();
  const rollOut = async (msg: ToWorker): Promise<void> => {
    for (const w of [...workers]) {
      if (!w.isConnected()) continue;
      await new Promise<void>((done) => {
        const finish = () => (clearTimeout(t), w.off('message', onMessage), w.off('exit', finish), done());
        const onMessage = (m: FromWorker) => m.type === 'reloaded' && finish();
        const t = setTimeout(finish, 60_000);
        w.on('message', onMessage);
        w.once('exit', finish);
        w.send(msg);
      });
    }
  };
  // The text last tried (applied or refused): one edit is reloaded once, even when SIGHUP and
  // the file watcher both see it.
  let lastText = readConfigText(opts.configPath);
  const reload = async (why: string, reopenGeo = false): Promise<boolean> => {
    try {
      const text = readConfigText(opts.configPath);
      if (text === lastText && why === 'file changed') return true;
      lastText = text;
      const next = parseConfigText(text, opts.configPath);
      GeoResolver.open(next.geo.database);
      // Keys are read again on every reload: a rollover step is a key file change and a SIGHUP.
      prepared = prepareForWorkers(next, loadZoneKeys(next));
      config = next;
    } catch (err) {
      metrics.reloads.inc({ result: 'refused' });
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      emit(
        log,
        'config.refused',
        { why, problems },
        'new configuration refused; still serving the previous one',
        'error',
      );
      return false;
    }
    state.addMissing(config);
    feed?.setConfig(config);
    const message: ToWorker = { type: 'reload', ...prepared, reopenGeo };
    rollouts = rollouts.then(() => rollOut(message));
    await rollouts;
    metrics.reloads.inc({ result: 'applied' });
    emit(log, 'config.reloaded', { why }, 'configuration reloaded');
    return true;
  };

  const onHup = () => void reload('SIGHUP', true);
  // A geo database updated in place (e.g. weekly GeoLite2) is re-read on its schedule.
  // node-cron is loaded only when a schedule is configured.
  const geoTask = config.geo.reloadCron
    ? (await import('node-cron')).default.schedule(
        config.geo.reloadCron,
        () => void reload('scheduled geo database reload', true),
        { name: 'geo-reload' },
      )
    : undefined;
  process.on('SIGHUP', onHup);
  // Watch the directory: editors and config managers replace files by rename.
  let debounce: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dirname(opts.configPath), (_event, file) => {
    if (file !== null && file !== basename(opts.configPath)) return;
    clearTimeout(debounce);
    // reload() reads the file once and skips an edit it has already tried; a file missing for a
    // moment is a rename in progress, and the next event catches up.
    debounce = setTimeout(() => existsSync(opts.configPath) && void reload('file changed'), 200);
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
  return { port, reload: () => reload('api'), close };
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
