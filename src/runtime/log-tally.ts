// At most one log line per key per period, with how many events it stands for: for events an
// outsider can cause at will (limited responses, refused NOTIFYs), where a line per packet would
// let them fill the disk. Pure: the caller gives the time.

export class LogTally {
  /** Keys seen since their last line: when that line was written and how many since. */
  private readonly keys = new Map<string, { loggedAt: number; since: number }>();

  constructor(
    private readonly periodMs: number,
    private readonly maxKeys: number,
  ) {}

  /**
   * Counts one event; when a line is due now, the number it and the unlogged ones before it make.
   * Events after a key's last line are told with its next one.
   */
  count(key: string, now: number): number | undefined {
    let k = this.keys.get(key);
    if (!k) {
      if (this.keys.size >= this.maxKeys) this.keys.clear();
      this.keys.set(key, (k = { loggedAt: -Infinity, since: 0 }));
    }
    k.since++;
    if (now - k.loggedAt < this.periodMs) return undefined;
    const n = k.since;
    k.loggedAt = now;
    k.since = 0;
    return n;
  }
}
