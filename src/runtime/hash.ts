// 32-bit hashes of in-memory keys (never for security): FNV-1a, quick over short keys, and
// murmur3's finaliser where the hash must be a uniform number (FNV's low bits are weak).
export const FNV_OFFSET = 0x811c9dc5;

/** One FNV-1a step: the hash so far with one more byte or UTF-16 code unit (not yet unsigned). */
export const fnvStep = (h: number, unit: number): number => Math.imul(h ^ unit, 0x01000193);

/** FNV-1a over a string's code units, continuing from `h` (the offset basis by default). */
export function fnvString(s: string, h = FNV_OFFSET): number {
  for (let i = 0; i < s.length; i++) h = fnvStep(h, s.charCodeAt(i));
  return h >>> 0;
}

/**
 * An address cut to its first `bits` (a client's subnet), hashed: FNV-1a from `h`, then the
 * finaliser. Sticky draws and capacity shedding hash subnets with different starts.
 */
export function subnetHash(addr: Uint8Array, bits: number, h = FNV_OFFSET): number {
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    h = fnvStep(h, (addr[i] as number) & (0xff << (8 - keep)) & 0xff);
  }
  return mix32(h);
}

/** murmur3's 32-bit finaliser: every input bit moves every output bit. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
