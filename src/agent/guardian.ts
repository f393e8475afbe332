// The BGP guard rail's I/O: follows the other agents' heartbeats, and before this PoP withdraws
// a shared anycast VIP on health grounds, takes a claim on it in the shared store in one atomic
// step (so two PoPs deciding at the same moment cannot both pass), as `guardDecision` allows.
// Without a store, or when the store cannot be reached, the agent decides locally (withdraws):
// a guard rail that could pin a dead PoP's path forever on a store outage would be worse.
import type { Config, Pop } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { type StateStore } from '../state/index.js';
import { KEYS, type AgentReport, type AnycastClaims } from '../contract/index.js';
import { guardDecision } from './shared-guard.js';

/** A held VIP asks the fleet again at most this often (and on every change of the fleet). */
const RECHECK_MS = 500;

export class SharedGuardian {
  private fleet?: Map<string, AgentReport>;
  private readonly allowed = new Set<number>();
  private readonly reasons = new Map<number, string>();
  private readonly waiting = new Set<number>();
  private readonly inFlight = new Set<number>();
  private readonly lastAsked = new Map<number, number>();
  private stopWatch?: () => void;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly config: Config,
    private readonly pop: Pop,
    private readonly store: () => StateStore | undefined,
    private readonly onDecision: (vip: number) => void,
    private readonly log: Logger,
  ) {}

  /** Follows the fleet's heartbeats once the store is open. */
  start(): void {
    const store = this.store();
    if (!store || !this.pop.vips.some((v) => v.shared)) return;
    this.stopWatch = store.watch<AgentReport>(KEYS.agents, (entries) => {
      this.fleet = new Map(entries.map((e) => [e.value.pop, e.value]));
      for (const vi of this.waiting) this.ask(vi);
    });
    this.timer = setInterval(() => {
      for (const vi of this.waiting) this.ask(vi);
    }, RECHECK_MS);
    this.timer.unref();
  }

  isAllowed(vi: number): boolean {
    return !this.pop.vips[vi]?.shared || this.allowed.has(vi);
  }

  reasonOf(vi: number): string {
    return this.reasons.get(vi) ?? 'asking the fleet';
  }

  /** The VIP is held: ask (again) whether it may be withdrawn. */
  request(vi: number): void {
    this.waiting.add(vi);
    this.ask(vi);
  }

  /** The VIP is healthy again: the next failure asks afresh, and this PoP's claim is given back. */
  reset(vi: number): void {
    this.waiting.delete(vi);
    if (!this.allowed.delete(vi)) return;
    const shared = this.pop.vips[vi]?.shared;
    const store = this.store();
    if (shared && store) void this.unclaim(store, KEYS.anycastClaims(shared.name)).catch(() => undefined);
  }

  private ask(vi: number): void {
    const now = Date.now();
    if (this.inFlight.has(vi) || now - (this.lastAsked.get(vi) ?? 0) < RECHECK_MS) return;
    this.lastAsked.set(vi, now);
    this.inFlight.add(vi);
    void this.decide(vi)
      .then(({ allow, reason }) => {
        const changed = allow !== this.allowed.has(vi) || reason !== this.reasons.get(vi);
        this.reasons.set(vi, reason);
        if (allow) {
          this.allowed.add(vi);
          this.waiting.delete(vi);
        }
        if (changed) this.onDecision(vi);
      })
      .finally(() => this.inFlight.delete(vi));
  }

  private async decide(vi: number): Promise<{ allow: boolean; reason: string }> {
    const vip = this.pop.vips[vi];
    const shared = vip?.shared;
    if (!vip || !shared) return { allow: true, reason: 'not a shared VIP' };
    const store = this.store();
    if (!store) return { allow: true, reason: 'no shared store configured: local decision' };
    if (!this.fleet) return { allow: true, reason: 'the fleet is unknown (store not read yet): local decision' };
    const key = KEYS.anycastClaims(shared.name);
    const pops = this.config.pops.filter((p) => p.vips.some((v) => v.shared?.name === shared.name)).map((p) => p.name);
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const entry = await store.get<AnycastClaims>(key);
        const now = Date.now();
        const live = Object.entries(entry?.value.pops ?? {}).filter(([p, until]) => until > now && p !== this.pop.name);
        const d = guardDecision({
          vip: shared,
          prefix: vip.prefix,
          me: this.pop.name,
          pops,
          reports: this.fleet,
          claims: live.map(([p]) => p),
        });
        if (!d.allow) return d;
        const claims: AnycastClaims = { pops: { ...Object.fromEntries(live), [this.pop.name]: now + shared.windowMs } };
        if (await store.putIf([{ key, rev: entry?.rev }], key, claims, { deadline: now + 3000 })) return d;
        // Another PoP claimed at the same moment: read again and decide again.
      }
      return { allow: false, reason: 'other PoPs are claiming at the same time; asking again' };
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message, vip: vip.prefix },
        'guard rail: store unreachable, deciding locally',
      );
      return { allow: true, reason: `shared store unreachable (${(err as Error).message}): local decision` };
    }
  }

  private async unclaim(store: StateStore, key: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const entry = await store.get<AnycastClaims>(key);
      if (!entry || !(this.pop.name in entry.value.pops)) return;
      const pops = { ...entry.value.pops };
      delete pops[this.pop.name];
      if (await store.putIf([{ key, rev: entry.rev }], key, { pops })) return;
    }
  }

  stop(): void {
    this.stopWatch?.();
    clearInterval(this.timer);
  }
}
