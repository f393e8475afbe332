// The steering decision for one steered name and one client: who it is (client-locator.ts),
// the policy's order of regions for them (cached per service and place when it depends only on
// the place), then the pure steering step (src/policy/steer.ts: health filter, fail-open, TTL).
import type { Config, Service } from '../config/index.js';
import type { GeoResolver } from '../geo/index.js';
import {
  applyFence,
  applyShed,
  type Shed,
  locationOnly,
  matchFence,
  order,
  poolOf,
  steer,
  type Client,
  type Ordering,
  type PolicyContext,
  type Selection,
  type WeightTable,
  weightTableOf,
} from '../policy/index.js';
import type { RegionStatus, StoreLost } from '../contract/index.js';
import type { RegionStateSource } from '../state/index.js';
import type { Edns } from '../wire/index.js';
import { ClientLocator, type ClientOf } from './client-locator.js';

export interface Decision {
  service: Service;
  client?: Client;
  clientSource: ClientOf['source'];
  ordering: Ordering;
  selection: Selection;
  ecsScope: number;
  /** The TTL the answer gets: the service's, or the short one while a region in it is unstable. */
  ttl: number;
  /** Until when that TTL holds without a state change (Infinity: until one). */
  ttlUntil: number;
  /** Why the TTL was shortened (explain), if it was. */
  ttlReason?: string;
  /** A loaded region shedding answers was this client's first choice (explain). */
  shed?: Shed['from'];
}

/** Cache key for clients whose location is unknown. */
const NO_LOCATION = {};
/** Cached orderings per service hold at most this many candidate slots in all (~64 MB). */
const ORDER_CACHE_SLOTS = 8_000_000;
const ORDER_CACHE_MAX = 100_000;

/** A shared (cached) ordering with the client's own scope; the rule is read through. */
class ScopedOrdering implements Ordering {
  constructor(
    readonly shared: Ordering,
    readonly scope: number,
  ) {}
  get candidates(): string[] {
    return this.shared.candidates;
  }
  get complete(): (() => string[]) | undefined {
    return this.shared.complete;
  }
  get rule(): string {
    return this.shared.rule;
  }
}

/** The policy's ordering with a shed region moved back; the scope covers the hashed subnet. */
function shedOrdering(o: Ordering, shed: Shed): Ordering {
  return {
    candidates: shed.candidates,
    complete: o.complete,
    scope: Math.max(o.scope, shed.scope),
    get rule() {
      return o.rule;
    },
  };
}

export class Decider {
  readonly clients: ClientLocator;
  /** Orderings per service and geo record (records are shared objects per database). */
  private orderCache = new Map<Service, Map<object, Ordering>>();
  /** Shared orderings as each fence rule leaves them. */
  private fenced = new WeakMap<Ordering, Map<object, Ordering>>();
  private readonly regionLists = new WeakMap<Service, string[]>();
  /** Policy context per service (its weights), made once per config. */
  private serviceCtx = new Map<Service, PolicyContext>();
  private readonly ctx: PolicyContext;
  /**
   * Bumped on every region state or weight change: cached weight tables, and the answers the
   * memo keeps per client, are for one epoch.
   */
  private weightEpoch = 0;

  get epoch(): number {
    return this.weightEpoch;
  }
  /** The store-lost fallback in force (control.store_lost), as the region views carry it. */
  storeLost?: StoreLost;
  /** While the fallback is `servfail`, steered names answer SERVFAIL. */
  get servfailSteered(): boolean {
    return this.storeLost?.fallback === 'servfail';
  }
  /** Optional tracer used by `gtm explain`. */
  onDecision?: (d: Decision) => void;

  constructor(
    private config: Config,
    geo: GeoResolver,
    private readonly state: RegionStateSource,
  ) {
    this.clients = new ClientLocator(geo);
    state.subscribe(() => {
      this.weightEpoch++;
      this.storeLost = this.findStoreLost();
    });
    state.onServiceWeights?.(() => this.weightEpoch++);
    this.ctx = { regions: config.regions, weightOf: (r) => this.weightOf(r), random: Math.random };
    this.storeLost = this.findStoreLost();
  }

  reload(config: Config, geo?: GeoResolver): void {
    this.config = config;
    this.ctx.regions = config.regions;
    this.clients.reset(geo);
    this.orderCache = new Map();
    this.serviceCtx = new Map();
    this.storeLost = this.findStoreLost();
  }

  private findStoreLost(): StoreLost | undefined {
    for (const r of this.config.regions.keys()) {
      const lost = this.state.get(r)?.storeLost;
      if (lost) return lost;
    }
    return undefined;
  }

  /**
   * The region's status; for one family and one name, `down` while the region is out for that
   * family alone (min_children) or for that name alone (its pool's own health).
   */
  statusOf(region: string, family?: 4 | 6, service?: string): RegionStatus {
    const view = this.state.get(region);
    if (!view) return this.config.regions.get(region)?.status ?? 'down';
    if (view.status !== 'up') return view.status;
    if (family && view.familyOut?.[family === 4 ? 'ipv4' : 'ipv6']) return 'down';
    if (service && view.poolsOut?.[service]) return 'down';
    return 'up';
  }

  private weightOf(region: string): number {
    return this.state.get(region)?.weight ?? this.config.regions.get(region)?.weight ?? 0;
  }

  /** The client a query stands for, as this service sees it. */
  clientOf(service: Service, edns: Edns | undefined, remoteAddress: string): ClientOf {
    return this.clients.locate(edns, remoteAddress, service.ecs && this.config.dns.ecs);
  }

  /** Runs the service's policy for one client: ordering, health filter, TTL, ECS scope. */
  decide(service: Service, edns: Edns | undefined, remoteAddress: string, family: 4 | 6): Decision {
    const { client, source } = this.clientOf(service, edns, remoteAddress);
    const policyOrdering = this.order(service, client);
    // A loaded region sheds a share of its clients to the next region (src/policy/capacity.ts).
    const shed = applyShed(
      policyOrdering.candidates,
      client,
      (r) => this.statusOf(r, family, service.key),
      (r) => this.state.get(r)?.shed ?? 0,
    );
    const ordering = shed ? shedOrdering(policyOrdering, shed) : policyOrdering;
    const { dns } = this.config;
    const steering = steer(
      service,
      ordering,
      family,
      (r) => this.state.get(r),
      (r) => this.statusOf(r, family, service.key),
      { ttl: service.ttl, unstableTtl: dns.unstableTtl, unstableWindowS: dns.unstableWindowS },
      Date.now(),
    );
    const maxScope = client?.family === 6 ? dns.maxScope6 : dns.maxScope4;
    const d: Decision = {
      service,
      client,
      clientSource: source,
      ordering,
      ecsScope: Math.min(ordering.scope, maxScope),
      ...steering,
      ...(shed?.from ? { shed: shed.from } : {}),
    };
    this.onDecision?.(d);
    return d;
  }

  /** The policy's order for this client, within the service's fence when a rule matches it. */
  private order(service: Service, client: Client | undefined): Ordering {
    const o = this.policyOrder(service, client);
    if (service.fence.length === 0) return o;
    const m = matchFence(service.fence, client);
    if (!m.rule || !locationOnly(service.policy)) return applyFence(o, m);
    // A shared ordering fenced by a rule is shared too (pinned clients of one place are many).
    const shared = o instanceof ScopedOrdering ? o.shared : o;
    let byRule = this.fenced.get(shared);
    if (!byRule) this.fenced.set(shared, (byRule = new Map()));
    let f = byRule.get(m.rule);
    if (!f) byRule.set(m.rule, (f = applyFence(shared, { rule: m.rule, scope: 0 })));
    const scope = Math.max(o.scope, m.scope);
    return f.scope === scope ? f : new ScopedOrdering(f, scope);
  }

  private policyOrder(service: Service, client: Client | undefined): Ordering {
    if (!locationOnly(service.policy))
      return order(service.policy, this.poolRegions(service), client, this.ctxFor(service));
    let perService = this.orderCache.get(service);
    if (!perService) {
      perService = new Map();
      this.orderCache.set(service, perService);
    }
    const key = client?.location ?? NO_LOCATION;
    let o = perService.get(key);
    if (!o) {
      o = order(service.policy, this.poolRegions(service), client, this.ctxFor(service));
      // Bounded by memory, not count: with city data there is an ordering per city (a long
      // ordering is truncated to its head, see nearest.ts, but other policies' are whole).
      const cap = Math.min(ORDER_CACHE_MAX, Math.floor(ORDER_CACHE_SLOTS / Math.max(1, o.candidates.length)));
      if (perService.size >= cap) perService.clear();
      perService.set(key, o);
    }
    // The ordering is shared; the scope is the client's own database network.
    if (o.scope === 0 || !client || o.scope === client.geoPrefix) return o;
    return new ScopedOrdering(o, client.geoPrefix);
  }

  /** The service's pool regions as one array per service (policies cache by its identity). */
  private poolRegions(service: Service): string[] {
    let r = this.regionLists.get(service);
    if (!r) this.regionLists.set(service, (r = service.pools.map((p) => p.region)));
    return r;
  }

  /** Weight order: operator weight for this name, operator weight for the region, pool weight. */
  private ctxFor(service: Service): PolicyContext {
    let c = this.serviceCtx.get(service);
    if (!c) {
      const weightOf = (r: string) =>
        this.state.serviceWeight(service.key, r) ?? this.state.get(r)?.weight ?? poolOf(service, r)?.weight ?? 0;
      // Weight tables per region list, made again after any state or weight change only.
      const tables = new WeakMap<string[], { epoch: number; table: WeightTable }>();
      c = {
        ...this.ctx,
        weightOf,
        weightTable: (regions) => {
          const kept = tables.get(regions);
          if (kept && kept.epoch === this.weightEpoch) return kept.table;
          const table = weightTableOf(regions, weightOf);
          tables.set(regions, { epoch: this.weightEpoch, table });
          return table;
        },
      };
      this.serviceCtx.set(service, c);
    }
    return c;
  }
}
