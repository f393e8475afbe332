// The rule for automatic SOA serials (see serials.ts): a new serial only for new content, the
// clock when it is ahead, else one more; never backwards in RFC 1982 arithmetic. Pure.

export interface SerialRecord {
  serial: number;
  /** SHA-256 of the zone's transferable content with the serial left out. */
  digest: string;
}

/** Whether serial `a` comes after `b` in RFC 1982 arithmetic (32 bits). */
export function serialAfter(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}

/** Pure: the serial for content `digest`, given the last one kept for the zone, at Unix time `nowS`. */
export function nextSerial(prev: SerialRecord | undefined, digest: string, nowS: number): SerialRecord {
  if (prev?.digest === digest) return prev;
  const clock = nowS >>> 0;
  if (!prev) return { serial: clock, digest };
  return { serial: serialAfter(clock, prev.serial) ? clock : (prev.serial + 1) >>> 0, digest };
}
