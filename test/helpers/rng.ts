// Seeded randomness for fuzz and differential tests: reproducible from the printed seed.

/** xorshift32: a number in [0, 1) per call. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}
