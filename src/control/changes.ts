// Operator changes, whoever makes them (the API, a schedule): checked against the guard
// rail, written to the store, audited.
import type { Config, RegionStatus } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import {
  DEFAULT_MAX_REGIONS_OUT,
  KEYS,
  exceedsGuardRail,
  type InMemoryRegionState,
  type RegionOverride,
  type RegionView,
  type ServiceWeightOverride,
  type StateStore,
} from '../state/index.js';
import type { AuditLog } from './audit.js';

export interface ChangeRequest {
  status?: RegionStatus;
  weight?: number;
  reason: string;
  expiresInS?: number;
  force?: boolean;
}

export type ChangeResult =
  { ok: true; override: RegionOverride | null } | { ok: false; code: 404 | 409; error: string };

export class Changes {
  constructor(
    private readonly config: Config,
    private readonly store: StateStore,
    private readonly audit: AuditLog,
    private readonly state: InMemoryRegionState,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async set(region: string, req: ChangeRequest, who: string, action: string): Promise<ChangeResult> {
    if (!this.config.regions.has(region)) return { ok: false, code: 404, error: `no region ${region}` };
    const maxOut = this.config.control?.maxRegionsOut ?? DEFAULT_MAX_REGIONS_OUT;
    const current = new Map([...this.config.regions.keys()].map((r) => [r, this.state.get(r) as RegionView]));
    if (req.status && req.status !== 'up' && !req.force && exceedsGuardRail(current, region, req.status, maxOut)) {
      this.log.warn({ who, region, status: req.status }, 'guard rail refused a change');
      return {
        ok: false,
        code: 409,
        error: `refused by the guard rail: more than ${Math.round(maxOut * 100)}% of regions would be out of DNS; repeat with "force": true if you mean it`,
      };
    }
    const t = this.now();
    const o: RegionOverride = {
      status: req.status,
      weight: req.weight,
      reason: req.reason,
      who,
      at: t,
      expiresAt: req.expiresInS ? t + req.expiresInS * 1000 : undefined,
      force: req.force || undefined,
    };
    await this.store.put(KEYS.regionOverride(region), o);
    this.audit.append({ at: new Date(t).toISOString(), who, action, target: region, why: req.reason, change: o });
    this.log.info({ who, action, region, change: o }, 'region override set');
    return { ok: true, override: o };
  }

  async clear(region: string, reason: string, who: string): Promise<ChangeResult> {
    if (!this.config.regions.has(region)) return { ok: false, code: 404, error: `no region ${region}` };
    await this.store.delete(KEYS.regionOverride(region));
    this.audit.append({
      at: new Date(this.now()).toISOString(),
      who,
      action: 'clear-override',
      target: region,
      why: reason,
      change: null,
    });
    this.log.info({ who, region, reason }, 'region override cleared');
    return { ok: true, override: null };
  }

  /** Weight of one region for one steered name (service key); null clears it. */
  async setServiceWeight(
    service: string,
    region: string,
    weight: number | null,
    reason: string,
    who: string,
    expiresInS?: number,
  ): Promise<ChangeResult> {
    const svc = this.config.services.find((x) => x.key === service);
    if (!svc) return { ok: false, code: 404, error: `no service ${service}` };
    if (!svc.pools.some((p) => p.region === region))
      return { ok: false, code: 404, error: `service ${service} has no pool in ${region}` };
    const t = this.now();
    if (weight === null) await this.store.delete(KEYS.serviceWeight(service, region));
    else {
      const w: ServiceWeightOverride = {
        weight,
        reason,
        who,
        at: t,
        expiresAt: expiresInS ? t + expiresInS * 1000 : undefined,
      };
      await this.store.put(KEYS.serviceWeight(service, region), w);
    }
    this.audit.append({
      at: new Date(t).toISOString(),
      who,
      action: weight === null ? 'clear-service-weight' : 'service-weight',
      target: `${service}/${region}`,
      why: reason,
      change: weight === null ? null : { weight, expiresInS },
    });
    this.log.info({ who, service, region, weight, reason }, 'service weight changed');
    return { ok: true, override: null };
  }
}
