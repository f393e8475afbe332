// Operator changes, whoever makes them (the API, a schedule): checked against the guard
// rail, written to the store, audited.
import type { Config, RegionStatus } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { StoreTimeoutError, exceedsGuardRail, type InMemoryRegionState, type StateStore } from '../state/index.js';
import {
  DEFAULT_MAX_REGIONS_OUT,
  isLive,
  KEYS,
  type RegionOverride,
  type RegionView,
  type ServiceWeightOverride,
} from '../contract/index.js';
import type { AuditLog } from './audit.js';

export interface ChangeRequest {
  status?: RegionStatus;
  weight?: number;
  reason: string;
  expiresInS?: number;
  force?: boolean;
}

export type ChangeResult =
  | { ok: true; override: RegionOverride | null; replayed?: boolean }
  | { ok: false; code: 404 | 409 | 503; error: string };

export class Changes {
  constructor(
    private readonly config: Config,
    private readonly store: StateStore,
    private readonly audit: AuditLog,
    private readonly state: InMemoryRegionState,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Sets (merges into) a region's override. The guard-rail check and the write are one atomic
   * step in the store (a compare on every region's override), so two control processes cannot
   * both pass the check; a lost race is retried on fresh state. The audit record is written
   * (fsync'ed) before the change is applied: a change never goes live unaudited.
   */
  async set(
    region: string,
    req: ChangeRequest,
    who: string,
    action: string,
    opts: { deadline?: number; idempotencyKey?: string } = {},
  ): Promise<ChangeResult> {
    if (!this.config.regions.has(region)) return { ok: false, code: 404, error: `no region ${region}` };
    const maxOut = this.config.control?.maxRegionsOut ?? DEFAULT_MAX_REGIONS_OUT;
    const idem = opts.idempotencyKey === undefined ? undefined : KEYS.idempotency(`${who}/${opts.idempotencyKey}`);
    for (let attempt = 0; attempt < 8; attempt++) {
      // A retry of a write that was applied (perhaps after its client gave up) gets its result.
      if (idem) {
        const done = await this.store.get<{ override: RegionOverride }>(idem);
        if (done) return { ok: true, override: done.value.override, replayed: true };
      }
      const t = this.now();
      const stored = new Map(
        (await this.store.list<RegionOverride>(KEYS.regionOverrides)).map((e) => [
          e.key.slice(KEYS.regionOverrides.length),
          e,
        ]),
      );
      const live = (o: RegionOverride | undefined) => (isLive(o, t) ? o : undefined);
      const existing = live(stored.get(region)?.value);
      // A change of one field keeps the others (a weight change must not end a drain).
      const o: RegionOverride = {
        status: req.status ?? existing?.status,
        weight: req.weight ?? existing?.weight,
        reason: req.reason,
        who,
        at: t,
        expiresAt: req.expiresInS ? t + req.expiresInS * 1000 : existing?.expiresAt,
        force: req.force || (req.status === undefined && existing?.force) || undefined,
      };
      // The statuses the guard rail judges: stored overrides as they are now, health otherwise.
      const current = new Map(
        [...this.config.regions.keys()].map((r) => {
          const view = this.state.get(r) as RegionView;
          const over = live(stored.get(r)?.value)?.status;
          return [
            r,
            over ? { ...view, status: over } : view.source === 'override' ? { ...view, status: 'up' as const } : view,
          ];
        }),
      );
      if (o.status && o.status !== 'up' && !req.force && exceedsGuardRail(current, region, o.status, maxOut)) {
        this.log.warn({ who, region, status: o.status }, 'guard rail refused a change');
        return {
          ok: false,
          code: 409,
          error: `refused by the guard rail: more than ${Math.round(maxOut * 100)}% of regions would be out of DNS; repeat with "force": true if you mean it`,
        };
      }
      const conditions: { key: string; rev?: number }[] = [...this.config.regions.keys()].map((r) => ({
        key: KEYS.regionOverride(r),
        rev: stored.get(r)?.rev,
      }));
      if (idem) conditions.push({ key: idem, rev: undefined });
      // Past the caller's deadline nothing more is written, the audit record included.
      if (opts.deadline !== undefined && this.now() > opts.deadline) throw new StoreTimeoutError('the change');
      this.audit.append({ at: new Date(t).toISOString(), who, action, target: region, why: req.reason, change: o });
      const also = idem ? [{ key: idem, value: { override: o, at: t, who } }] : [];
      if (await this.store.putIf(conditions, KEYS.regionOverride(region), o, { deadline: opts.deadline, also })) {
        this.log.info({ who, action, region, change: o }, 'region override set');
        return { ok: true, override: o };
      }
      this.audit.append({
        at: new Date(this.now()).toISOString(),
        who,
        action: `${action}-retried`,
        target: region,
        why: 'a concurrent change came first; checked again',
        change: null,
      });
    }
    return { ok: false, code: 503, error: 'too many concurrent changes; try again' };
  }

  async clear(region: string, reason: string, who: string): Promise<ChangeResult> {
    if (!this.config.regions.has(region)) return { ok: false, code: 404, error: `no region ${region}` };
    // Audit first, then apply.
    this.audit.append({
      at: new Date(this.now()).toISOString(),
      who,
      action: 'clear-override',
      target: region,
      why: reason,
      change: null,
    });
    await this.store.delete(KEYS.regionOverride(region));
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
    // Audit first, then apply.
    this.audit.append({
      at: new Date(t).toISOString(),
      who,
      action: weight === null ? 'clear-service-weight' : 'service-weight',
      target: `${service}/${region}`,
      why: reason,
      change: weight === null ? null : { weight, expiresInS },
    });
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
    this.log.info({ who, service, region, weight, reason }, 'service weight changed');
    return { ok: true, override: null };
  }
}
