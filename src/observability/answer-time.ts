// The DNS answer-time histogram, counted in place. prom-client's Histogram validates and hashes
// the labels on every observation, even through a bound child: measured at ~1.2 µs of CPU per
// query (about 7% of a worker's cost per answer). This one keeps plain counters per series and
// hands prom-client the standard histogram shape (buckets, sum, count) when it is scraped, so
// the registry, the cluster aggregation and the exposition format stay prom-client's.
import type { Registry } from 'prom-client';

interface Series {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  counts: Float64Array;
  sum: number;
}

export interface AnswerTimer {
  observe(seconds: number): void;
}

export class AnswerTimeHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: string,
    private readonly bounds: number[],
    registry: Registry,
  ) {
    // Duck-typed: the registry only calls get(), reset() and reads name/help/type.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series for one label value, bound once by the caller (no lookup per observation). */
  labels(value: string): AnswerTimer {
    let s = this.series.get(value);
    if (!s) this.series.set(value, (s = { counts: new Float64Array(this.bounds.length + 1), sum: 0 }));
    const series = s;
    const bounds = this.bounds;
    return {
      observe(seconds: number): void {
        let i = 0;
        while (i < bounds.length && seconds > (bounds[i] as number)) i++;
        (series.counts[i] as number)++;
        series.sum += seconds;
      },
    };
  }

  /** prom-client's histogram export: cumulative `_bucket` values with `le`, then `_sum`, `_count`. */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { labels: Record<string, string | number>; value: number; metricName: string }[];
  }> {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const [label, s] of this.series) {
      let cumulative = 0;
      s.counts.forEach((n, i) => {
        cumulative += n;
        const le = i < this.bounds.length ? (this.bounds[i] as number) : '+Inf';
        values.push({ labels: { le, [this.labelName]: label }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { [this.labelName]: label }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: label }, value: cumulative, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const s of this.series.values()) (s.counts.fill(0), (s.sum = 0));
  }
}
