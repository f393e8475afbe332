// Public entry of the vantage capability: outside-in health. A vantage point (every agent, and
// `gtm probe` where there is no PoP) checks each other region's VIPs from where it stands, runs
// each address through rise/fall, and publishes what it sees to the shared store with a lease.
// The merge (src/state/merge.ts) counts the points that reach each region against a quorum.
import type { Check, Config, Region, VantageSettings } from '../config/index.js';
import { feed, newRiseFall, probe, type ProbeResult, type RiseFall } from '../health/index.js';
import { Counter, Gauge, Histogram, type Logger, type Registry } from '../observability/index.js';
import { openStore, type StateStore } from '../state/index.js';
import { emit, KEYS, type VantageReport } from '../contract/index.js';

export interface VantageTarget {
  region: string;
  addresses: string[];
  check: Check;
}

/**
 * What a point checks: every region with a VIP except its own (`vips` picks the families), with
 * the region's own check or the default.
 */
export function vantageTargets(config: Config, ownRegion?: string): VantageTarget[] {
  const v = config.control?.vantage;
  if (!v) return [];
  const of = (r: Region) =>
    [v.vips === 'v6' ? undefined : r.vip4, v.vips === 'v4' ? undefined : r.vip6].filter(
      (a): a is string => a !== undefined,
    );
  return [...config.regions.values()]
    .filter((r) => r.name !== ownRegion && of(r).length > 0)
    .map((r) => ({ region: r.name, addresses: of(r), check: r.check ?? v.check }));
}

type Prober = (address: string, check: Check) => Promise<ProbeResult>;

/** What a vantage point exports (beside its host's own metrics: an agent's, or `gtm probe --metrics`). */
export class VantageMetrics {
  readonly reachable: Gauge;
  readonly checkSeconds: Histogram;
  readonly reports: Counter;

  constructor(registry: Registry) {
    this.reachable = new Gauge({
      name: 'gtm_vantage_reachable',
      help: '1 when this vantage point reaches a region (after rise/fall), 0 when it does not',
      labelNames: ['point', 'region'],
      registers: [registry],
    });
    this.checkSeconds = new Histogram({
      name: 'gtm_vantage_check_seconds',
      help: "Time of one check of a region's VIP from this vantage point",
      labelNames: ['region', 'result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    });
    this.reports = new Counter({
      name: 'gtm_vantage_reports_total',
      help: 'Reports this vantage point published to the shared store, by result',
      labelNames: ['result'],
      registers: [registry],
    });
  }
}

export class VantagePoint {
  private readonly health = new Map<string, RiseFall>();
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private stopped = false;

  constructor(
    readonly point: string,
    private readonly ownRegion: string | undefined,
    private readonly targets: VantageTarget[],
    private readonly settings: VantageSettings,
    private readonly store: StateStore,
    private readonly log: Logger,
    private readonly check: Prober = probe,
    private readonly metrics?: VantageMetrics,
  ) {}

  start(): void {
    const tick = () => {
      // A round slower than the interval is not overlapped by the next one.
      if (!this.round && !this.stopped) this.round = this.probeAll().finally(() => (this.round = undefined));
    };
    this.timer = setInterval(tick, this.settings.intervalMs);
    tick();
  }

  /** One round: every address of every target, then one report. */
  async probeAll(): Promise<void> {
    await Promise.all(
      this.targets.flatMap((t) =>
        t.addresses.map(async (address) => {
          const r = await this.check(address, t.check);
          this.metrics?.checkSeconds.observe({ region: t.region, result: r.ok ? 'ok' : 'failed' }, r.ms / 1000);
          const key = `${t.region}|${address}`;
          const before = this.health.get(key) ?? newRiseFall();
          const at = Date.now();
          const { rf } = feed(before, r.ok, this.settings.rise, this.settings.fall, at);
          rf.last = { ok: r.ok, detail: r.detail, at, ms: r.ms };
          this.health.set(key, rf);
        }),
      ),
    );
    const report = this.report();
    for (const t of report.targets) {
      this.metrics?.reachable.set({ point: this.point, region: t.region }, t.reachable ? 1 : 0);
      if (this.said.get(t.region) !== t.reachable) {
        this.said.set(t.region, t.reachable);
        emit(
          this.log,
          'vantage.target',
          { point: this.point, region: t.region, reachable: t.reachable, detail: t.detail },
          t.reachable ? 'region reachable from this vantage point' : 'region not reachable from this vantage point',
          t.reachable ? 'info' : 'warn',
        );
      }
    }
    if (this.stopped) return;
    try {
      await this.store.put(KEYS.vantage(this.point), report, { leaseMs: this.settings.leaseMs });
      this.metrics?.reports.inc({ result: 'published' });
    } catch (err) {
      this.metrics?.reports.inc({ result: 'failed' });
      this.log.warn({ err: (err as Error).message }, 'could not publish the vantage report');
    }
  }

  private readonly said = new Map<string, boolean>();

  /** Targets whose every address has a verdict; reachable only if every address is up. */
  report(): VantageReport {
    const targets: VantageReport['targets'] = [];
    for (const t of this.targets) {
      const states = t.addresses.map((a) => ({ a, rf: this.health.get(`${t.region}|${a}`) }));
      if (states.some((s) => !s.rf || s.rf.state === 'unknown')) continue;
      const down = states.filter((s) => s.rf?.state !== 'up');
      targets.push({
        region: t.region,
        reachable: down.length === 0,
        detail: down.length
          ? down.map((s) => `${s.a}: ${s.rf?.last?.detail ?? 'down'}`).join('; ')
          : `${t.check.type} ok on ${t.addresses.join(', ')}`,
      });
    }
    return { point: this.point, region: this.ownRegion, at: Date.now(), targets };
  }

  /** Stops probing and takes this point's report out of the store (it no longer has a view). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.round;
    await this.store.delete(KEYS.vantage(this.point)).catch(() => undefined);
  }
}

/** Runs a vantage point with its own store connection; resolves to its stop. */
export async function startVantagePoint(
  config: Config,
  point: string,
  ownRegion: string | undefined,
  log: Logger,
  /** Where its metrics go: the agent's registry, or the probe's own. */
  registry?: Registry,
): Promise<(() => Promise<void>) | undefined> {
  const settings = config.control?.vantage;
  if (!settings || !config.control) return undefined;
  const store = await openStore(config.control.store, log);
  const targets = vantageTargets(config, ownRegion);
  const vp = new VantagePoint(
    point,
    ownRegion,
    targets,
    settings,
    store,
    log,
    probe,
    registry && new VantageMetrics(registry),
  );
  vp.start();
  emit(
    log,
    'vantage.started',
    { point, region: ownRegion, targets: targets.map((t) => t.region) },
    'vantage probes running',
  );
  return async () => {
    await vp.stop();
    await store.close();
  };
}
