// When a flooded worker holds its UDP queue short, and when it gives the whole buffer back: a pure
// decision over load samples (saturated, misses refused), no sockets.
import { describe, expect, it } from 'vitest';
import { CALM_SAMPLES, FLOODED_REFUSALS, QueueHold } from '../../src/dns/overload.js';

const flooded = [true, FLOODED_REFUSALS] as const;
const calm = [false, 0] as const;

describe('QueueHold', () => {
  it('shortens at the first flooded sample', () => {
    const hold = new QueueHold();
    expect(hold.sample(...calm)).toBe(false);
    expect(hold.sample(...flooded)).toBe(true);
  });

  it('needs both saturation and refusals: a busy worker (a reload, a burst) keeps its buffer', () => {
    const hold = new QueueHold();
    expect(hold.sample(true, FLOODED_REFUSALS - 1)).toBe(false);
    expect(hold.sample(false, 10 * FLOODED_REFUSALS)).toBe(false);
  });

  it('gives the buffer back only after a run of calm samples', () => {
    const hold = new QueueHold();
    hold.sample(...flooded);
    for (let i = 1; i < CALM_SAMPLES; i++) expect(hold.sample(...calm)).toBe(true);
    expect(hold.sample(...calm)).toBe(false);
  });

  it('starts counting calm again at every flooded sample (a flood that comes in waves)', () => {
    const hold = new QueueHold();
    hold.sample(...flooded);
    for (let wave = 0; wave < 5; wave++) {
      for (let i = 1; i < CALM_SAMPLES; i++) expect(hold.sample(...calm)).toBe(true);
      expect(hold.sample(...flooded)).toBe(true);
    }
    for (let i = 1; i < CALM_SAMPLES; i++) hold.sample(...calm);
    expect(hold.sample(...calm)).toBe(false);
  });
});
