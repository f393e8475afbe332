// Our counting answer-time histogram must read exactly as prom-client's Histogram does for
// the same observations: same exposition text, and the same after cluster aggregation.
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AnswerTimeHistogram } from '../../src/observability/answer-time.js';
import { rng } from '../helpers/rng.js';

const BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01];

function both(seed: number) {
  const ours = new Registry();
  const theirs = new Registry();
  const a = new AnswerTimeHistogram('t_seconds', 'help text', 'transport', BUCKETS, ours);
  const b = new Histogram({
    name: 't_seconds',
    help: 'help text',
    labelNames: ['transport'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const rand = rng(seed);
  const udp = a.labels('udp');
  const tcp = a.labels('tcp');
  for (let i = 0; i < 5000; i++) {
    // Values on the bucket bounds too: `le` is inclusive.
    const v = rand() < 0.1 ? (BUCKETS[Math.floor(rand() * BUCKETS.length)] as number) : rand() * rand() * 0.02;
    const t = rand() < 0.8 ? 'udp' : 'tcp';
    (t === 'udp' ? udp : tcp).observe(v);
    b.observe({ transport: t }, v);
  }
  return { ours, theirs, a };
}

/** Exposition lines in a fixed order (series order is the order labels were first seen). */
const lines = async (r: Pick<Registry, 'metrics'>) => (await r.metrics()).split('\n').sort();

describe('answer-time histogram', () => {
  it('exports what prom-client exports for the same observations', async () => {
    const { ours, theirs } = both(7);
    expect(await lines(ours)).toEqual(await lines(theirs));
  });
  it('aggregates across workers like prom-client', async () => {
    const [x, y] = [both(1), both(2)];
    const ours = AggregatorRegistry.aggregate([await x.ours.getMetricsAsJSON(), await y.ours.getMetricsAsJSON()]);
    const theirs = AggregatorRegistry.aggregate([await x.theirs.getMetricsAsJSON(), await y.theirs.getMetricsAsJSON()]);
    expect(await lines(ours)).toEqual(await lines(theirs));
  });
  it('resets to zero', async () => {
    const { ours, a } = both(3);
    a.reset();
    expect(await ours.metrics()).toMatch(/^t_seconds_count\{transport="udp"\} 0$/m);
  });
});
