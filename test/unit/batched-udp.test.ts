// The batched UDP path hands the answer path the same source address string dgram would:
// checked against Node's own formatting (libuv) for edge cases and random addresses.
import { SocketAddress } from 'node:net';
import { describe, expect, it } from 'vitest';
import { peerAddress } from '../../src/dns/batched-udp.js';
import { rng } from '../helpers/rng.js';

/** A peer record as the addon writes it: family, flag, port, then the address bytes. */
function peer(family: 4 | 6, bytes: number[]): Uint8Array {
  const p = new Uint8Array(24); // at 4 below: the record need not start at 0
  p.set([family, 0, 0x12, 0x34, ...bytes], 4);
  return p;
}

const groupsOf = (b: number[]) =>
  Array.from({ length: 8 }, (_, i) => (((b[2 * i] as number) << 8) | (b[2 * i + 1] as number)).toString(16)).join(':');
const libuv = (b: number[]) => new SocketAddress({ address: groupsOf(b), family: 'ipv6' }).address;

describe('peerAddress', () => {
  it('gives IPv4 dotted', () => {
    expect(peerAddress(peer(4, [198, 18, 4, 1]), 4)).toBe('198.18.4.1');
  });

  it('gives IPv6 as libuv does, edge cases included', () => {
    const cases: number[][] = [
      [...Array(15).fill(0), 1], // ::1
      Array(16).fill(0), // ::
      [...Array(10).fill(0), 0xff, 0xff, 127, 0, 0, 1], // IPv4-mapped
      [...Array(12).fill(0), 1, 2, 3, 4], // IPv4-compatible
      [...Array(15).fill(0), 2], // ::0.0.0.2
      [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], // first of two equal runs
      [0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0], // no run of two
      [0x20, 0x01, ...Array(14).fill(0)], // trailing run
    ];
    for (const b of cases) expect(peerAddress(peer(6, b), 4), groupsOf(b)).toBe(libuv(b));
  });

  it('gives random IPv6 addresses (many zero groups) as libuv does', () => {
    const r = rng(32);
    for (let n = 0; n < 20_000; n++) {
      const b = Array.from({ length: 16 }, (_, i) =>
        r() < 0.6 ? 0 : i % 2 ? Math.floor(r() * 256) : r() < 0.5 ? 0 : 1,
      );
      expect(peerAddress(peer(6, b), 4), groupsOf(b)).toBe(libuv(b));
    }
  });
});
