// Automatic SOA serials, with no I/O: a new serial only for new content, never backwards.
import { describe, expect, it } from 'vitest';
import { nextSerial, serialAfter } from '../../src/dns/serials.js';

describe('automatic SOA serials', () => {
  it('compare as RFC 1982 says (32-bit, wrapping)', () => {
    expect(serialAfter(2, 1)).toBe(true);
    expect(serialAfter(1, 2)).toBe(false);
    expect(serialAfter(5, 5)).toBe(false);
    expect(serialAfter(3, 0xfffffffe)).toBe(true); // wrapped past 2^32
    expect(serialAfter(0x80000005, 5)).toBe(false); // 2^31 apart: undefined, never "after"
  });
  it('keep the serial while the content is the same, and take the clock for new content', () => {
    const first = nextSerial(undefined, 'a', 1_800_000_000);
    expect(first).toEqual({ serial: 1_800_000_000, digest: 'a' });
    expect(nextSerial(first, 'a', 1_800_000_500)).toBe(first);
    expect(nextSerial(first, 'b', 1_800_000_500)).toEqual({ serial: 1_800_000_500, digest: 'b' });
  });
  it('go one up when the clock is not ahead (two changes in a second, a clock set back)', () => {
    const kept = { serial: 1_800_000_000, digest: 'a' };
    expect(nextSerial(kept, 'b', 1_800_000_000).serial).toBe(1_800_000_001);
    expect(nextSerial(kept, 'b', 1_700_000_000).serial).toBe(1_800_000_001);
    expect(nextSerial({ serial: 0xffffffff, digest: 'a' }, 'b', 5).serial).toBe(5);
    expect(nextSerial({ serial: 0xffffffff, digest: 'a' }, 'b', 0xfffffff0).serial).toBe(0);
  });
});
