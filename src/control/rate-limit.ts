// Per-client token buckets for costly requests (explain runs the answer code): a client may
// burst, then gets `rate` per second; beyond that 429 with a Retry-After. Pure: the caller
// passes the time. The table is bounded: past `maxClients` the least recently seen is dropped.

export interface RateLimitOptions {
  /** Requests per second a client keeps once its burst is spent. */
  rate: number;
  burst: number;
  maxClients?: number;
}

export class PerClientLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly maxClients: number;

  constructor(private readonly opts: RateLimitOptions) {
    this.maxClients = opts.maxClients ?? 10_000;
  }

  /** Takes one request's token: 0 when allowed, else the seconds until one is there. */
  take(client: string, now: number): number {
    const b = this.buckets.get(client) ?? { tokens: this.opts.burst, at: now };
    b.tokens = Math.min(this.opts.burst, b.tokens + ((now - b.at) / 1000) * this.opts.rate);
    b.at = now;
    // Re-inserted so the map's order is least recently seen first.
    this.buckets.delete(client);
    this.buckets.set(client, b);
    if (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value as string);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / this.opts.rate);
  }

  get clients(): number {
    return this.buckets.size;
  }
}
