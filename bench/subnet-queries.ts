// Many clients, not one: a dnsperf input in its binary form (-B: each query a 2-byte length, then
// the message) asking the steered name with ECS from `count` different /24s drawn over the
// world's routable IPv4 space. One subnet is the answer memo's and the client caches' best case;
// 100,000 is what a resolver farm in front of many networks sends.
import { writeFileSync } from 'node:fs';
import { buildQuery, TYPE } from '../src/wire/index.js';

/** Not routed on the Internet (RFC 6890): never a client's subnet. */
function reserved(a: number, b: number): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    a >= 224 ||
    (a === 100 && b >= 64 && b < 128) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19))
  );
}

/** `count` distinct routable /24s, the same for the same seed. */
export function worldSubnets(count: number, seed: number): Uint8Array[] {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s);
  const seen = new Set<number>();
  const out: Uint8Array[] = [];
  while (out.length < count) {
    const v = next() >>> 8; // the top 24 bits: a /24
    const [a, b, c] = [v >>> 16, (v >>> 8) & 0xff, v & 0xff];
    if (reserved(a, b) || seen.has(v)) continue;
    seen.add(v);
    out.push(Uint8Array.of(a, b, c, 0));
  }
  return out;
}

/** Writes the queries (the steered name, A, ECS /24 from each subnet) as dnsperf -B reads them. */
export function writeSubnetQueries(file: string, name: string, subnets: Uint8Array[]): void {
  const parts: Buffer[] = [];
  for (const address of subnets) {
    const q = buildQuery(name, TYPE.A, { id: 0, ecs: { address, sourcePrefix: 24 } });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(q.length);
    parts.push(len, q);
  }
  writeFileSync(file, Buffer.concat(parts));
}
