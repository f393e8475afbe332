// Who reads the socket the workers share. If every worker's loop waited on it, a datagram landing
// while the worker that took the last one is still busy would wake another, which mostly finds
// the queue already drained and sleeps again: at 20,000 queries a second from one client that
// doubled the workers' sleeps and cost ~70% more CPU per query than one reader alone
// (docs/benchmarks.md, "Taking turns on the shared socket"). So one worker leads (reads always);
// the others stand by, looking at the socket's queue now and then, and read beside the leader
// while datagrams wait: a leader stopped, busy on a reload or a flood, or more load than one
// worker answers. Pure: the socket and the timer are batched-udp.ts's.

/** What a look at the shared socket's queue found. */
export interface QueueLook {
  /** Bytes queued for reading (the kernel's count, with its overhead: ~830 per small datagram). */
  bytes: number;
  /** An identity of the datagram at the head (source, DNS ID, length); undefined: none queued. */
  head: number | undefined;
}

export type Turn = 'lead' | 'help' | 'stand-by';

export interface TurnState {
  turn: Turn;
  /** The head seen at the last look. */
  lastHead: number | undefined;
  /** A helper reads until then (ms, the caller's clock) unless it is needed again. */
  helpUntil: number;
}

/** A few datagrams waiting (~10 small ones on loopback, ~4 from a NIC): the readers are behind. */
export const DEEP_QUEUE_BYTES = 8192;
/** How long a helper stays after it was last needed: long enough not to flap under steady load. */
export const HELP_HOLD_MS = 100;
/** Looks while datagrams were queued at the last one; a head still there after one is stuck. */
export const LOOK_BUSY_MS = 2;
/** Looks while the queue was empty (fewer wake-ups for a server that is mostly idle). */
export const LOOK_IDLE_MS = 20;

export function standingBy(): TurnState {
  return { turn: 'stand-by', lastHead: undefined, helpUntil: 0 };
}

/**
 * The next turn after a look at `now`. `led`: this worker just took the lead (the one before it
 * is gone). A worker not leading is needed when the datagram at the head is the one it saw at its
 * last look (nobody read for a look's interval) or when the queue is deep; a helper leaves once it
 * has not been needed for HELP_HOLD_MS.
 */
export function nextTurn(s: TurnState, look: QueueLook, now: number, led: boolean): TurnState {
  if (s.turn === 'lead' || led) return { turn: 'lead', lastHead: undefined, helpUntil: 0 };
  const stuck = look.head !== undefined && look.head === s.lastHead;
  const needed = stuck || look.bytes >= DEEP_QUEUE_BYTES;
  const helpUntil = needed ? now + HELP_HOLD_MS : s.helpUntil;
  const turn = needed || (s.turn === 'help' && now < helpUntil) ? 'help' : 'stand-by';
  return { turn, lastHead: look.head, helpUntil };
}

/** When to look next: soon while datagrams are queued, later while the queue is empty. */
export function nextLookMs(look: QueueLook): number {
  return look.head === undefined ? LOOK_IDLE_MS : LOOK_BUSY_MS;
}
