// Bytes kept for long. Node hands out small Buffers (under 4 KiB) as slices of shared 8 KiB slabs,
// and one live slice keeps its whole slab: an entry kept in a long-lived cache while others churn
// through it pins a slab for tens of bytes. Under a one-off-name DO flood that held 57-100 MB of
// array buffers (after GC) for a few MB of signatures and answers; see docs/benchmarks.md.

/** A copy of `bytes` in memory of its own, for a cache to keep. */
export function unpooled(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(bytes.length);
  out.set(bytes);
  return out;
}
