// SVCB and HTTPS RDATA (RFC 9460) from a record read (src/config/svcb.ts reads the presentation
// form): the answer path writes a steered HTTPS answer with its address hints here.

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);

/** An SVCB/HTTPS record read: priority, target in wire form, parameters by key (in key order when encoded). */
export interface SvcbParts {
  priority: number;
  target: Uint8Array;
  params: [number, Uint8Array][];
}

/** The RDATA of a record read, with more parameters (a steered answer's address hints); keys in order. */
export function svcbWire(parts: SvcbParts, more: [number, Uint8Array][] = []): Buffer {
  const params = [...parts.params, ...more].sort(([a], [b]) => a - b);
  return Buffer.concat([u16(parts.priority), parts.target, ...params.flatMap(([k, v]) => [u16(k), u16(v.length), v])]);
}

/** The address hints (keys 4 and 6) of a steered HTTPS answer: the addresses the client is given. */
export function addressHints(v4: Uint8Array[], v6: Uint8Array[]): [number, Uint8Array][] {
  const hints: [number, Uint8Array][] = [];
  if (v4.length) hints.push([4, Buffer.concat(v4)]);
  if (v6.length) hints.push([6, Buffer.concat(v6)]);
  return hints;
}
