// The caches kept by popularity: a flood of one-off keys never pushes out keys asked again.
import { describe, expect, it } from 'vitest';
import { HotCache } from '../../src/runtime/index.js';

describe('HotCache', () => {
  it('keeps popular keys through a flood of one-off keys many times its size', () => {
    const c = new HotCache<string, number>(1000);
    const popular = Array.from({ length: 200 }, (_, i) => `popular-${i}`);
    for (const k of popular) c.set(k, 1);
    let popularHits = 0;
    let popularAsks = 0;
    for (let i = 0; i < 100_000; i++) {
      const one = `flood-${i}`;
      if (c.get(one) === undefined) c.set(one, 2);
      if (i % 10 === 0) {
        const k = popular[(i / 10) % popular.length] as string;
        popularAsks++;
        if (c.get(k) !== undefined) popularHits++;
        else c.set(k, 1);
      }
      expect(c.size).toBeLessThanOrEqual(1000);
    }
    // Every popular key was asked 50 times, 2000 one-off keys apart (twice the cache): its first
    // asks miss (it falls out of probation), then the frequency filter keeps it.
    expect(popularHits / popularAsks).toBeGreaterThan(0.9);
    expect(c.evictions).toBeGreaterThan(90_000);
  });

  it('an "empty when full" cache (what it replaced) loses them under the same flood', () => {
    // The same workload against the old rule, as the reference the test above improves on.
    const m = new Map<string, number>();
    let hits = 0;
    let asks = 0;
    for (let i = 0; i < 100_000; i++) {
      if (m.size >= 1000) m.clear();
      if (!m.has(`flood-${i}`)) m.set(`flood-${i}`, 2);
      if (i % 10 === 0) {
        const k = `popular-${(i / 10) % 200}`;
        asks++;
        if (m.has(k)) hits++;
        else {
          if (m.size >= 1000) m.clear();
          m.set(k, 1);
        }
      }
    }
    expect(hits / asks).toBeLessThan(0.5);
  });

  it('promotes on the second ask, gives protected keys a second chance, and stays within its bound', () => {
    const c = new HotCache<number, string>(10, { hotShare: 0.5 }); // 5 protected at most
    for (let i = 0; i < 5; i++) c.set(i, `v${i}`);
    for (let i = 0; i < 5; i++) expect(c.get(i)).toBe(`v${i}`); // promoted
    c.get(0); // referenced: survives the next demotion
    c.set(5, 'v5');
    c.get(5); // a sixth promotion demotes the oldest unreferenced protected key (1), not 0
    for (let i = 100; i < 120; i++) c.set(i, 'x'); // churns probation only
    expect(c.peek(0)).toBe('v0');
    expect(c.peek(5)).toBe('v5');
    expect(c.peek(1)).toBeUndefined(); // demoted to probation, then churned out
    expect(c.size).toBeLessThanOrEqual(10);
    c.set(0, 'new');
    expect(c.get(0)).toBe('new');
    c.delete(0);
    expect(c.get(0)).toBeUndefined();
    c.clear();
    expect(c.size).toBe(0);
    expect(c.stats.hits).toBeGreaterThan(0);
    expect(() => new HotCache(1)).toThrow(/at least 2/);
  });
  it('with secondSight keeps nothing set once, keeps what is set twice (protected), and a flood of one-offs holds no entry', () => {
    const c = new HotCache<string, number>(100, { secondSight: true });
    c.set('popular', 1);
    expect(c.peek('popular')).toBeUndefined(); // first sight: its hash only
    expect(c.size).toBe(0);
    c.set('popular', 2);
    expect(c.get('popular')).toBe(2); // second sight: kept
    for (let i = 0; i < 10_000; i++) c.set(`one-off ${i}`, i);
    expect(c.size).toBe(1); // the flood left no entry behind...
    expect(c.get('popular')).toBe(2); // ...and did not push the popular one out
    c.set('popular', 3); // a set of a kept key replaces its value at once
    expect(c.get('popular')).toBe(3);
  });
  it('keeps a working set that fits whole when it is asked in turn, through clock passes and rehashes', () => {
    // 100,000 client subnets asked in turn by a resolver farm: each pass promotes, marks and
    // demotes; the hands (live iterators) must keep walking the segments right across rehashes.
    const c = new HotCache<number, number>(1000);
    let hits = 0;
    for (let pass = 0; pass < 50; pass++)
      for (let k = 0; k < 700; k++) {
        if (c.get(k) !== undefined) hits++;
        else c.set(k, k);
        expect(c.size).toBeLessThanOrEqual(1000);
      }
    // Every miss after the first two passes would be a lost entry.
    expect(hits).toBeGreaterThanOrEqual(48 * 700);
    // Larger than the cache: still bounded, and evictions are counted one by one.
    for (let k = 0; k < 20_000; k++) if (c.get(10_000 + (k % 1500)) === undefined) c.set(10_000 + (k % 1500), k);
    expect(c.size).toBeLessThanOrEqual(1000);
    expect(c.evictions).toBeGreaterThan(0);
  });
});
