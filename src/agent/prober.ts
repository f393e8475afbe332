// Probes every LB node of every VIP on its own timer (fast while a node is changing state)
// and polls the passive error-rate URLs. It decides nothing: each result goes to the agent.
import type { Vip } from '../config/index.js';
import { isChanging, probe, readErrorRate, readLoad, type RiseFall } from '../health/index.js';

export interface ProbeResult {
  vip: number;
  node: number;
  ok: boolean;
  detail: string;
  ms: number;
}

export interface ProberEvents {
  onProbe(r: ProbeResult): void;
  onErrorRate(vip: number, rate: number | undefined): void;
  /** The cluster's load as a share of its capacity (undefined: could not be read). */
  onLoad(vip: number, load: number | undefined): void;
  /** The node's current rise/fall state, which sets the next probe's interval. */
  riseFall(vip: number, node: number): RiseFall;
}

export class Prober {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly vips: Vip[],
    private readonly events: ProberEvents,
  ) {}

  start(): void {
    this.vips.forEach((v, vi) => {
      v.nodes.forEach((_, ni) => this.schedule(vi, ni, 0));
      const { passive, load } = v;
      if (passive)
        this.poll(passive.url, passive.intervalMs, readErrorRate, (rate) => this.events.onErrorRate(vi, rate));
      if (load)
        this.poll(load.url, load.intervalMs, readLoad, (n) =>
          this.events.onLoad(vi, n === undefined ? undefined : n / load.capacity),
        );
    });
  }

  private later(f: () => Promise<void>, ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void f();
    }, ms);
    this.timers.add(t);
  }

  private schedule(vi: number, ni: number, delay: number): void {
    const v = this.vips[vi] as Vip;
    const n = v.nodes[ni] as Vip['nodes'][number];
    this.later(async () => {
      let ok = true;
      let detail = '';
      let ms = 0;
      for (const check of v.checks) {
        const r = await probe(n.address, check);
        ms += r.ms;
        detail = `${check.type}: ${r.detail}`;
        if (!r.ok) {
          ok = false;
          break;
        }
      }
      if (this.stopped) return;
      this.events.onProbe({ vip: vi, node: ni, ok, detail, ms });
      this.schedule(vi, ni, isChanging(this.events.riseFall(vi, ni)) ? v.fastIntervalMs : v.intervalMs);
    }, delay);
  }

  /** Reads a number from a URL every `intervalMs` (a timeout within the interval) and hands it on. */
  private poll(url: string, intervalMs: number, read: typeof readLoad, deliver: (n: number | undefined) => void) {
    this.later(async () => {
      const n = await read(url, Math.min(2000, intervalMs));
      if (this.stopped) return;
      deliver(n);
      this.poll(url, intervalMs, read, deliver);
    }, intervalMs);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
