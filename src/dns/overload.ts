// A worker's view of its own load, and what it does while saturated: build only a few memo misses
// per turn of the event loop (TurnBudget), and, while it refuses many (a flood of new names), keep
// its UDP queue short (DnsServer.onLoad). Both exist for a flood: work the worker cannot do in
// time only adds delay for every query queued behind it, the popular names included.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { MissBudget } from './authority.js';

/** The event loop busy this share of the last sample: the worker is saturated. */
const SATURATED = 0.9;
export const SAMPLE_MS = 100;

/**
 * Nanoseconds this thread has spent running or waiting for a CPU, as the kernel counts them
 * (/proc/thread-self/schedstat: time on a CPU, then time runnable on a run queue); undefined where
 * /proc does not say (not Linux, a kernel without CONFIG_SCHED_INFO, no /proc mounted).
 */
export function threadBusyNs(): number | undefined {
  try {
    const [onCpu, queued] = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ');
    const ns = Number(onCpu) + Number(queued);
    return Number.isFinite(ns) ? ns : undefined;
  } catch {
    return undefined;
  }
}

/** The share of wall time since the last call that the event loop was busy. */
type BusyShare = () => number;

/**
 * From the kernel: the time the loop's thread ran or waited to run, that is every moment it was not
 * asleep waiting for events. Where the kernel counts, this is what Saturation uses, so libuv's own
 * idle clock (Node turns it on for performance.eventLoopUtilization) can be turned off: it costs a
 * second epoll_pwait on every wake (see stopIdleClock in native/udp_batch.c).
 */
function kernelBusyShare(): BusyShare | undefined {
  const first = threadBusyNs();
  if (first === undefined) return undefined;
  let [busy, at] = [first, performance.now()];
  return () => {
    const nowBusy = threadBusyNs() ?? busy;
    const now = performance.now();
    const share = (nowBusy - busy) / Math.max((now - at) * 1e6, 1);
    [busy, at] = [nowBusy, now];
    return share;
  };
}

/** From libuv's idle clock (the time spent waiting in epoll), where the kernel does not count. */
function libuvBusyShare(): BusyShare {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const share = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return share;
  };
}

/** Samples how busy the event loop is, and tells `onSample` after each sample. */
export class Saturation {
  /** Whether the busy share comes from the kernel (libuv's idle clock is then not read). */
  static readonly kernelCounts = threadBusyNs() !== undefined;
  saturated = false;
  private readonly busyShare = kernelBusyShare() ?? libuvBusyShare();
  private readonly timer = setInterval(() => this.sample(), SAMPLE_MS).unref();

  constructor(private readonly onSample: (saturated: boolean) => void) {}

  private sample(): void {
    this.saturated = this.busyShare() >= SATURATED;
    this.onSample(this.saturated);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * The miss budget of one worker: while it is saturated, so many answers are built per turn of the
 * event loop (one poll of the sockets, up to 32 datagrams each), refilled when the turn ends.
 * Answers already in the memo never draw from it, so under a flood of new names they keep their
 * speed; a worker with time to spare builds every answer (a burst of new names from a busy
 * resolver is not truncated).
 */
export class TurnBudget implements MissBudget {
  /** Misses refused since `takeRefused` was last called. */
  private refused = 0;
  private left: number;
  private armed = false;
  private readonly refill = () => {
    this.left = this.perTurn;
    this.armed = false;
  };

  constructor(
    private readonly perTurn: number,
    private readonly load: Saturation,
  ) {
    this.left = perTurn;
  }

  take(): boolean {
    if (!this.load.saturated) return true;
    if (!this.armed) {
      this.armed = true;
      setImmediate(this.refill);
    }
    if (this.left <= 0) {
      this.refused++;
      return false;
    }
    this.left--;
    return true;
  }

  /** How many misses were refused since the last call. */
  takeRefused(): number {
    const n = this.refused;
    this.refused = 0;
    return n;
  }
}

/** Misses refused in one load sample (100 ms) that mark a flood of new names, not a busy spell. */
export const FLOODED_REFUSALS = 32;
/** Samples in a row without a flood before a short UDP queue is given back (1 s). */
export const CALM_SAMPLES = 10;

/**
 * Whether a worker's UDP queue is held short: from its first flooded sample until a second of
 * calm. Quick to shorten, slow to give back, because a short queue calms a flood for a moment: the
 * kernel drops what does not fit, and a client that waits out its timeouts sends less for a while.
 * Giving the whole buffer back at the first calm sample let the next wave queue up in front of
 * every user again (`ss` showed a flooded socket's buffer flip every few samples).
 */
export class QueueHold {
  short = false;
  private calm = 0;

  /** One load sample: saturated, and how many misses were refused in it. Returns `short`. */
  sample(saturated: boolean, refused: number): boolean {
    if (saturated && refused >= FLOODED_REFUSALS) {
      this.short = true;
      this.calm = 0;
    } else if (this.short && ++this.calm >= CALM_SAMPLES) {
      this.short = false;
    }
    return this.short;
  }
}
