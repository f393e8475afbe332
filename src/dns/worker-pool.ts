// The DNS primary's workers: one per core, forked from their own entry, restarted when one dies,
// each started from the primary's current validated config, zones and region state (never the
// file), then sent every change in order. A new config rolls out one worker at a time.
import cluster, { type Worker } from 'node:cluster';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../observability/index.js';
import type { InMemoryRegionState } from '../state/index.js';
import { emit } from '../contract/index.js';
import type { FromWorker, ToWorker } from './ipc.js';
import type { prepareForWorkers } from './zone.js';

/** Workers run their own entry (never the CLI) and get Maps and byte arrays over IPC as they are. */
const WORKER_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'worker.js');

export type Prepared = ReturnType<typeof prepareForWorkers>;

/** V8 flags for the workers, each unless the operator passed their own (docs/operations.md). */
const WORKER_V8_FLAGS = [
  // A worker's garbage is short-lived (one query's objects): a 4 MB young generation instead of
  // V8's default 16 MB keeps ~40 MB less resident per worker at the same CPU per query.
  '--max-semi-space-size=4',
  // Under a flood of new names the caches churn, and what they evict is old-generation garbage.
  // V8 lets the old generation grow to up to 4x what is live before a full collection when
  // collections look cheap: ~50 MB live became 330 MB per worker, still creeping up after ten
  // minutes. At 2x, ~220 MB, flat from the second minute, for ~8% more CPU per flood query
  // (1.5x: ~185 MB for ~20% more; docs/benchmarks.md, "Under attack").
  '--heap-growing-percent=100',
];

export class WorkerPool {
  private readonly workers = new Set<Worker>();
  private closing = false;
  /** A worker accepted a NOTIFY for a zone we are a secondary of. */
  onNotify?: (zone: string, from: string) => void;
  private rollouts = Promise.resolve();

  constructor(
    private readonly log: Logger,
    private readonly listen: { host: string; port: number },
    private readonly state: InMemoryRegionState,
    /** What a worker starts from: the primary's current compiled config. */
    private readonly current: () => Prepared,
  ) {
    cluster.setupPrimary({
      exec: WORKER_ENTRY,
      args: [],
      serialization: 'advanced',
      execArgv: [
        ...process.execArgv,
        ...WORKER_V8_FLAGS.filter((f) => !process.execArgv.some((a) => a.startsWith(f.split('=')[0] as string))),
      ],
    });
  }

  /** Starts `count` workers; the first picks the port when 0 was asked for, the rest share it. */
  async start(count: number): Promise<number> {
    // Following the state before the first fork: a worker that said hello has its snapshot and
    // gets every change after it, even while the others are still starting (subscribing after
    // the forks left a worker that started first on a stale state until the next change).
    this.state.subscribe(() => this.send({ type: 'state', snapshot: this.state.snapshot() }));
    this.state.onServiceWeights((weights) => this.send({ type: 'weights', weights }));
    this.listen.port = await this.fork();
    await Promise.all(Array.from({ length: count - 1 }, () => this.fork()));
    return this.listen.port;
  }

  private send(msg: ToWorker): void {
    for (const w of this.workers) if (w.isConnected()) w.send(msg, undefined, undefined, () => undefined);
  }

  private fork(): Promise<number> {
    const w = cluster.fork();
    w.on('exit', (code, signal) => {
      this.workers.delete(w);
      if (this.closing) return;
      emit(
        this.log,
        'dns.worker.exited',
        { worker: w.process.pid ?? -1, code, signal },
        'dns worker exited; starting a new one',
        'error',
      );
      setTimeout(() => void this.fork().catch((err) => this.log.error({ err }, 'could not restart a dns worker')), 100);
    });
    // The IPC channel of a worker that dies mid-send reports EPIPE here, not as a crash.
    w.on('error', (err) => this.log.warn({ err: err.message, worker: w.process.pid }, 'dns worker channel error'));
    return new Promise((resolve, reject) => {
      w.on('message', (m: FromWorker) => {
        // The worker listens now (messages sent earlier would be lost): it gets the current
        // config and state, and from here on every change, in order.
        if (m.type === 'hello') {
          w.send(
            {
              type: 'init',
              ...this.current(),
              host: this.listen.host,
              port: this.listen.port,
              snapshot: this.state.snapshot(),
              weights: this.state.allServiceWeights(),
            } satisfies ToWorker,
            undefined,
            undefined,
            () => undefined,
          );
          this.workers.add(w);
        }
        if (m.type === 'notify') this.onNotify?.(m.zone, m.from);
        if (m.type === 'ready') {
          emit(this.log, 'dns.worker.ready', { worker: w.process.pid ?? -1 }, 'dns worker answering');
          resolve(m.port);
        }
      });
      w.once('exit', () => reject(new Error('dns worker exited during start-up (see its log)')));
    });
  }

  /**
   * A new config goes to one worker at a time: while one swaps (deserialises the compiled zones
   * on its own event loop), the others keep reading the shared sockets, so a large reload stalls
   * no query (with two or more workers). Roll-outs queue behind each other.
   */
  rollOut(msg: ToWorker): Promise<void> {
    this.rollouts = this.rollouts.then(async () => {
      for (const w of [...this.workers]) {
        if (!w.isConnected()) continue;
        await new Promise<void>((done) => {
          const finish = () => (clearTimeout(t), w.off('message', onMessage), w.off('exit', finish), done());
          const onMessage = (m: FromWorker) => m.type === 'reloaded' && finish();
          const t = setTimeout(finish, 60_000);
          w.on('message', onMessage);
          w.once('exit', finish);
          w.send(msg, undefined, undefined, () => undefined);
        });
      }
    });
    return this.rollouts;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [...this.workers].map(
        (w) =>
          new Promise<void>((r) => {
            w.once('exit', () => r());
            w.kill('SIGTERM');
          }),
      ),
    );
  }
}
