// Who reads the shared socket: the decision alone, fed the looks a worker standing by would take.
import { describe, expect, it } from 'vitest';
import {
  DEEP_QUEUE_BYTES,
  HELP_HOLD_MS,
  LOOK_BUSY_MS,
  LOOK_IDLE_MS,
  nextLookMs,
  nextTurn,
  standingBy,
  type QueueLook,
  type TurnState,
} from '../../src/dns/udp-turns.js';

const empty: QueueLook = { bytes: 0, head: undefined };
const one = (head: number): QueueLook => ({ bytes: 832, head });

/** The turns after each look, `step` ms apart, from standing by. */
function turns(looks: QueueLook[], step = LOOK_BUSY_MS, from: TurnState = standingBy()): string[] {
  let s = from;
  return looks.map((look, i) => (s = nextTurn(s, look, i * step, false)).turn);
}

describe('taking turns on the shared socket', () => {
  it('stands by while the leader keeps up: each look finds another datagram or none', () => {
    expect(turns([one(1), one(2), empty, one(3), one(4), empty])).toEqual(Array(6).fill('stand-by'));
  });

  it('helps when the datagram at the head is the one seen at the last look (nobody read it)', () => {
    expect(turns([one(1), one(1)])).toEqual(['stand-by', 'help']);
    // The same datagram after an empty look is a new one that looks the same: no reason.
    expect(turns([one(1), empty, one(1)])).toEqual(['stand-by', 'stand-by', 'stand-by']);
  });

  it('helps when the queue is deep, though the leader reads', () => {
    const deep = (head: number): QueueLook => ({ bytes: DEEP_QUEUE_BYTES, head });
    expect(turns([{ bytes: DEEP_QUEUE_BYTES - 1, head: 1 }, deep(2)])).toEqual(['stand-by', 'help']);
  });

  it('keeps helping until it has not been needed for the hold, then stands by', () => {
    let s = nextTurn(standingBy(), one(1), 0, false);
    s = nextTurn(s, one(1), 2, false);
    expect(s).toMatchObject({ turn: 'help', helpUntil: 2 + HELP_HOLD_MS });
    s = nextTurn(s, empty, 2 + HELP_HOLD_MS - 1, false);
    expect(s.turn).toBe('help');
    // Needed again within the hold: the hold starts over.
    s = nextTurn(s, { bytes: DEEP_QUEUE_BYTES, head: 9 }, 100, false);
    expect(s).toMatchObject({ turn: 'help', helpUntil: 100 + HELP_HOLD_MS });
    expect(nextTurn(s, empty, 100 + HELP_HOLD_MS, false).turn).toBe('stand-by');
  });

  it('leads once it took the lead, and the lead is kept whatever the queue shows', () => {
    const led = nextTurn(standingBy(), one(1), 0, true);
    expect(led.turn).toBe('lead');
    expect(nextTurn(led, empty, 10_000, false).turn).toBe('lead');
  });

  it('looks soon while datagrams wait and seldom while the queue is empty', () => {
    expect(nextLookMs(one(1))).toBe(LOOK_BUSY_MS);
    expect(nextLookMs(empty)).toBe(LOOK_IDLE_MS);
    expect(LOOK_BUSY_MS).toBeLessThan(LOOK_IDLE_MS);
  });
});
