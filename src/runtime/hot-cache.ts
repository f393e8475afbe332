// A bounded cache that keeps what is asked for again. "Empty it when full" (what the answer
// memo, the signature cache and the client cache did) lets a flood of one-off names throw the
// popular entries away every N queries; plain LRU lets the same flood push them out one by one.
// This is a segmented LRU with ghost entries (the 2Q idea): a new entry waits in a probation
// segment and is promoted to the protected one when it is asked for again; a key evicted from
// probation is remembered as a ghost (its hash only, for 4x the cache's size of evictions), and
// when it comes back it goes straight to protected: it was asked twice, a flood just went by in
// between. One-off keys churn probation and never displace what is hot. Protected entries get a
// second chance (a reference bit, set on a hit and cleared as the clock hand passes) before they
// are demoted back to probation.
// A hit in the protected segment costs one Map lookup and one boolean write; ghosts are only
// touched on a miss (which is about to cost far more: a build, a signature, a geo lookup).
import { fnvString } from './hash.js';

interface Hot<V> {
  v: V;
  ref: boolean;
}

export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
  size: number;
}

/**
 * A hand over a Map in insertion order: a live iterator (it sees deletions, and entries added at
 * the tail, as they happen), restarted at the head once it has passed the last entry. Why not
 * `entries().next()` from the head each time: a Map keeps deleted slots until it is rehashed, and
 * every walk from the head skips all of them again; under 100,000 client subnets that was 57% of
 * a worker's time (docs/benchmarks.md).
 */
class Hand<K, V> {
  private at?: Iterator<[K, V]>;
  constructor(private readonly map: () => Map<K, V>) {}
  /** The oldest entry the hand has not passed, or undefined when the map is empty. */
  next(): [K, V] | undefined {
    let n = this.at?.next();
    if (!n || n.done) {
      this.at = this.map().entries();
      n = this.at.next();
    }
    return n.done ? undefined : n.value;
  }
  /** Back to the head (the map was replaced). */
  reset(): void {
    this.at = undefined;
  }
}

export class HotCache<K, V> {
  private probation = new Map<K, V>();
  private hot = new Map<K, Hot<V>>();
  private readonly hotMax: number;
  /** Hashes of keys evicted from probation, oldest overwritten first (a ring and its set). */
  private readonly ghostRing: Uint32Array;
  private ghostAt = 0;
  private readonly ghosts = new Set<number>();
  /** The clock hands over each segment, always at its oldest entry. */
  private readonly hotHand = new Hand(() => this.hot);
  private readonly probationHand = new Hand(() => this.probation);
  hits = 0;
  misses = 0;
  evictions = 0;

  private readonly onEvict?: (k: K, v: V) => void;
  private readonly secondSight: boolean;

  /**
   * `max` entries in all, at most `hotShare` of them (default 0.8) protected; `onEvict` hears of
   * each eviction. With `secondSight`, a key is not kept the first time it is set, only its hash
   * (as a ghost): set again while remembered, it is kept, protected. For values a flood makes once
   * each and nobody asks for again (signatures over one-off names): kept on first sight they lived
   * long enough to reach V8's old generation and were its garbage; not kept, they die young.
   */
  constructor(
    readonly max: number,
    options: { hotShare?: number; onEvict?: (k: K, v: V) => void; secondSight?: boolean } = {},
  ) {
    if (!(max >= 2)) throw new Error('a HotCache holds at least 2 entries');
    this.onEvict = options.onEvict;
    this.secondSight = options.secondSight ?? false;
    this.hotMax = Math.max(1, Math.min(max - 1, Math.floor(max * (options.hotShare ?? 0.8))));
    this.ghostRing = new Uint32Array(max * 4);
  }

  /** A 32-bit hash of a key (FNV-1a over a string's code units; a number mixed). */
  private static hash(k: unknown): number {
    if (typeof k === 'number') return Math.imul((k ^ (k / 2 ** 32)) | 0, 0x9e3779b1) >>> 0;
    return fnvString(String(k));
  }

  private remember(k: K): void {
    const h = HotCache.hash(k);
    if (this.ghosts.has(h)) return;
    const old = this.ghostRing[this.ghostAt] as number;
    if (old !== 0) this.ghosts.delete(old);
    this.ghostRing[this.ghostAt] = h || 1; // 0 marks an empty slot
    this.ghosts.add(h || 1);
    this.ghostAt = (this.ghostAt + 1) % this.ghostRing.length;
  }

  get size(): number {
    return this.probation.size + this.hot.size;
  }

  get stats(): CacheStats {
    return { hits: this.hits, misses: this.misses, evictions: this.evictions, size: this.size };
  }

  get(k: K): V | undefined {
    const h = this.hot.get(k);
    if (h) {
      h.ref = true;
      this.hits++;
      return h.v;
    }
    const v = this.probation.get(k);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    // Asked for a second time: promoted.
    this.hits++;
    this.probation.delete(k);
    this.hot.set(k, { v, ref: false });
    if (this.hot.size > this.hotMax) this.demoteOne();
    return v;
  }

  /** The value without counting a lookup or promoting it (inspection). */
  peek(k: K): V | undefined {
    return this.hot.get(k)?.v ?? this.probation.get(k);
  }

  set(k: K, v: V): void {
    const h = this.hot.get(k);
    if (h) return void (h.v = v);
    const held = this.probation.delete(k);
    if (!held && this.ghosts.size && this.ghosts.delete(HotCache.hash(k) || 1)) {
      // Evicted before and asked again: popular, kept in the protected segment.
      this.hot.set(k, { v, ref: false });
      if (this.hot.size > this.hotMax) this.demoteOne();
      this.trimProbation();
      return;
    }
    if (this.secondSight && !held) return this.remember(k);
    this.probation.set(k, v);
    this.trimProbation();
  }

  delete(k: K): void {
    this.hot.delete(k);
    this.probation.delete(k);
  }

  clear(): void {
    this.hot = new Map();
    this.probation = new Map();
    this.hotHand.reset();
    this.probationHand.reset();
    this.ghosts.clear();
    this.ghostRing.fill(0);
  }

  /**
   * The oldest protected entry not referenced since the hand last passed goes back to probation;
   * a referenced one loses its mark and goes to the tail (a second chance), where the hand finds
   * it again.
   */
  private demoteOne(): void {
    for (let turns = this.hot.size; turns >= 0; turns--) {
      const next = this.hotHand.next();
      if (!next) return;
      const [k, h] = next;
      this.hot.delete(k);
      if (h.ref && turns > 0) {
        h.ref = false;
        this.hot.set(k, h); // second chance: to the tail, where the hand will find it again
        continue;
      }
      this.probation.set(k, h.v);
      this.trimProbation();
      return;
    }
  }

  /** Probation is first in, first out: its hand is always at the oldest. */
  private trimProbation(): void {
    while (this.probation.size > 0 && this.size > this.max) {
      const next = this.probationHand.next();
      if (!next) return;
      const [oldest, v] = next;
      this.probation.delete(oldest);
      this.remember(oldest);
      this.evictions++;
      this.onEvict?.(oldest, v);
    }
  }
}
