// Keeps gobgpd holding exactly the desired paths: ListPath, DeletePath what should not be
// there, AddPath what is missing or wrong, ListPath again to verify. Reconciliations are
// serialised; a request during one runs another right after; gRPC errors back off.
import { reconcile, type AnnouncedPath } from '../bgp/index.js';
import type { Logger } from '../observability/index.js';
import { emit } from '../contract/index.js';
import type { AgentMetrics } from './metrics.js';
import type { PathClient } from './speaker.js';

export class Announcer {
  /** What gobgpd held after the last successful reconcile (what /status reports). */
  announced: AnnouncedPath[] = [];
  private reconciling?: Promise<void>;
  private dirty = false;
  /** Stop retrying, unless `finishing` (shutdown must still withdraw). */
  stopped = false;
  finishing = false;

  constructor(
    private readonly client: PathClient,
    private readonly desired: () => AnnouncedPath[],
    private readonly onChanged: () => void,
    private readonly log: Logger,
    private readonly m: AgentMetrics,
  ) {}

  /** gobgpd restarted: its RIB is empty. */
  forget(): void {
    this.announced = [];
  }

  request(): Promise<void> {
    this.dirty = true;
    if (!this.reconciling) {
      this.reconciling = (async () => {
        let backoff = 100;
        while (this.dirty) {
          this.dirty = false;
          try {
            await this.once();
            backoff = 100;
          } catch (err) {
            this.m.grpcErrors.inc({ method: (err as { method?: string }).method ?? 'unknown' });
            this.log.warn({ err: (err as Error).message, retryMs: backoff }, 'reconcile failed; retrying');
            await new Promise((r) => setTimeout(r, backoff));
            backoff = Math.min(3000, backoff * 2);
            this.dirty = !this.stopped || this.finishing;
            if (this.stopped && !this.finishing) break;
          }
        }
        this.reconciling = undefined;
      })();
    }
    return this.reconciling;
  }

  private async once(): Promise<void> {
    const desired = this.desired();
    const announced = await this.client.listLocalPaths();
    const plan = reconcile(desired, announced);
    for (const p of plan.remove) {
      const t0 = performance.now();
      await this.client.deletePath(p);
      this.m.bgpSeconds.observe({ op: 'delete' }, (performance.now() - t0) / 1000);
      emit(
        this.log,
        'bgp.path.withdrawn',
        { prefix: p.prefix, ms: +(performance.now() - t0).toFixed(2) },
        'withdrew path',
      );
    }
    for (const p of plan.add) {
      const t0 = performance.now();
      await this.client.addPath(p);
      this.m.bgpSeconds.observe({ op: 'add' }, (performance.now() - t0) / 1000);
      emit(
        this.log,
        'bgp.path.announced',
        {
          prefix: p.prefix,
          med: p.med,
          communities: p.communities,
          prepend: p.prepend,
          ms: +(performance.now() - t0).toFixed(2),
        },
        'announced path',
      );
    }
    // Verify: what gobgpd holds now is what /status reports as announced.
    const changed = plan.add.length > 0 || plan.remove.length > 0;
    this.announced = changed ? await this.client.listLocalPaths() : announced;
    this.m.announcedPaths.set(this.announced.length);
    if (changed) this.onChanged();
    const left = reconcile(desired, this.announced);
    if (left.add.length || left.remove.length)
      throw new Error(
        `gobgpd does not hold the desired paths after reconciling (${left.add.length} missing, ${left.remove.length} extra)`,
      );
  }
}
