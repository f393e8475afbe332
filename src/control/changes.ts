// Operator changes, whoever makes them (the API, a schedule): checked against the guard rail,
// written to the store, audited with what became of them.
//
// A region's override has two parts, each its own store key with its own reason, author and
// expiry: the status (`drain` scope: drain, force down or up) and the weight (`weight` scope).
// A change to one part never touches the other, so a token can only ever change what its
// scope covers.
import type { Config, RegionStatus } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { StoreTimeoutError, exceedsGuardRail, type InMemoryRegionState, type StateStore } from '../state/index.js';
import {
  DEFAULT_MAX_REGIONS_OUT,
  isLive,
  KEYS,
  type AuditEntry,
  type HealthSignal,
  type AuditOutcome,
  type RegionOverride,
  type RegionView,
  type RegionWeightOverride,
  type ServiceWeightOverride,
} from '../contract/index.js';
import type { AuditLog } from './audit.js';

export interface ChangeRequest {
  status?: RegionStatus;
  weight?: number;
  reason: string;
  /** Applies to the parts this request writes, and only to them. */
  expiresInS?: number;
  force?: boolean;
}

/** The parts of a region's override a change wrote (undefined: not touched; null: removed). */
export interface ChangedParts {
  override?: RegionOverride | null;
  weight?: RegionWeightOverride | null;
  /** A pushed health signal (`control.signals`). */
  signal?: HealthSignal;
}

export type ChangeResult =
  ({ ok: true; replayed?: boolean } & ChangedParts) | { ok: false; code: 404 | 409 | 503; error: string };

type WriteOpts = { deadline?: number; idempotencyKey?: string };

/** How long an unknown outcome is chased (read back) before the audit gives up on it. */
const READ_BACK_FOR_MS = 120_000;

export class Changes {
  /** Unknown outcomes being read back (stopped on close). */
  private readonly chasing = new Set<NodeJS.Timeout>();

  constructor(
    private readonly config: Config,
    private readonly store: StateStore,
    private readonly audit: AuditLog,
    private readonly state: InMemoryRegionState,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Sets the parts of a region's override the request names. A status goes through the guard
   * rail: the check and the write are one atomic step in the store (a compare on every region's
   * status), so two control processes cannot both pass it; a lost race is retried on fresh state.
   */
  async set(
    region: string,
    req: ChangeRequest,
    who: string,
    action: string,
    opts: WriteOpts = {},
  ): Promise<ChangeResult> {
    if (!this.config.regions.has(region)) return { ok: false, code: 404, error: `no region ${region}` };
    if (req.status === undefined && req.weight === undefined)
      return { ok: false, code: 409, error: 'a change names a status, a weight or both' };
    const idem = opts.idempotencyKey === undefined ? undefined : KEYS.idempotency(`${who}/${opts.idempotencyKey}`);
    for (let attempt = 0; attempt < 8; attempt++) {
      // A retry of a write that was applied (perhaps after its client gave up) gets its result.
      if (idem) {
        const done = await this.store.get<ChangedParts>(idem);
        if (done) return { ok: true, ...done.value, replayed: true };
      }
      const t = this.now();
      const expiresAt = req.expiresInS ? t + req.expiresInS * 1000 : undefined;
      const parts: ChangedParts = {};
      const writes: { key: string; value: unknown }[] = [];
      if (req.weight !== undefined) {
        parts.weight = { weight: req.weight, reason: req.reason, who, at: t, expiresAt };
        writes.push({ key: KEYS.regionWeight(region), value: parts.weight });
      }
      let conditions: { key: string; rev?: number }[] = [];
      if (req.status !== undefined) {
        const judged = await this.judge(region, req, who, t, expiresAt);
        if ('refused' in judged) {
          this.record({ who, action, target: region, why: req.reason, change: req, outcome: 'refused' });
          return { ok: false, code: 409, error: judged.refused };
        }
        parts.override = judged.override;
        conditions = judged.conditions;
        writes.unshift({ key: KEYS.regionOverride(region), value: judged.override });
      }
      if (idem) {
        conditions.push({ key: idem, rev: undefined });
        writes.push({ key: idem, value: { ...parts, at: t, who } });
      }
      const [first, ...also] = writes as [{ key: string; value: unknown }, ...{ key: string; value: unknown }[]];
      const applied = await this.apply({ who, action, target: region, why: req.reason, change: parts }, () =>
        this.store.putIf(conditions, first.key, first.value, { deadline: opts.deadline, also }),
      );
      if (applied) {
        this.log.info({ who, action, region, change: parts }, 'region override set');
        return { ok: true, ...parts };
      }
      this.log.info({ who, action, region, attempt }, 'a concurrent change came first; checking again');
    }
    return { ok: false, code: 503, error: 'too many concurrent changes; try again' };
  }

  /**
   * The status part of a change, judged by the guard rail on the stored statuses as they are now
   * (health where there is none), with the compares that make that judgement atomic with the write.
   */
  private async judge(
    region: string,
    req: ChangeRequest,
    who: string,
    t: number,
    expiresAt?: number,
  ): Promise<{ refused: string } | { override: RegionOverride; conditions: { key: string; rev?: number }[] }> {
    const maxOut = this.config.control?.maxRegionsOut ?? DEFAULT_MAX_REGIONS_OUT;
    const stored = new Map(
      (await this.store.list<RegionOverride>(KEYS.regionOverrides)).map((e) => [
        e.key.slice(KEYS.regionOverrides.length),
        e,
      ]),
    );
    const live = (o: RegionOverride | undefined) => (isLive(o, t) ? o : undefined);
    const status = req.status as RegionStatus;
    const override: RegionOverride = {
      status,
      reason: req.reason,
      who,
      at: t,
      // Re-setting a status without an expiry keeps the one it had (a drain's reason can be
      // corrected without making it permanent).
      expiresAt: expiresAt ?? live(stored.get(region)?.value)?.expiresAt,
      ...(req.force ? { force: true } : {}),
    };
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
    if (status !== 'up' && !req.force && exceedsGuardRail(current, region, status, maxOut)) {
      this.log.warn({ who, region, status }, 'guard rail refused a change');
      return {
        refused: `refused by the guard rail: more than ${Math.round(maxOut * 100)}% of regions would be out of DNS; repeat with "force": true if you mean it`,
      };
    }
    const conditions = [...this.config.regions.keys()].map((r) => ({
      key: KEYS.regionOverride(r),
      rev: stored.get(r)?.rev,
    }));
    return { override, conditions };
  }

  /** Removes the status part of a region's override (undrain): health decides again. */
  clear(region: string, reason: string, who: string, opts: WriteOpts = {}): Promise<ChangeResult> {
    return this.remove(region, KEYS.regionOverride(region), 'clear-override', { override: null }, reason, who, opts);
  }

  /** Removes the weight part of a region's override: the configured weight applies again. */
  clearWeight(region: string, reason: string, who: string, opts: WriteOpts = {}): Promise<ChangeResult> {
    return this.remove(region, KEYS.regionWeight(region), 'clear-weight', { weight: null }, reason, who, opts);
  }

  private async remove(
    region: string,
    key: string,
    action: string,
    parts: ChangedParts,
    reason: string,
    who: string,
    opts: WriteOpts,
  ): Promise<ChangeResult> {
    if (!this.config.regions.has(region)) return { ok: false, code: 404, error: `no region ${region}` };
    if (opts.deadline !== undefined && this.now() > opts.deadline) throw new StoreTimeoutError('the change', false);
    await this.apply({ who, action, target: region, why: reason, change: null }, async () => {
      await this.store.delete(key);
      return true;
    });
    this.log.info({ who, region, reason, action }, 'region override part removed');
    return { ok: true, ...parts };
  }

  /**
   * A pushed health signal, up or down for its lease (`control.signals.NAME.lease_s`, or
   * `leaseS`): audited like an override; `action` says who pushed it (`signal`, `alertmanager`).
   */
  async setSignal(
    name: string,
    up: boolean,
    reason: string,
    who: string,
    opts: { leaseS?: number; action?: string; deadline?: number } = {},
  ): Promise<{ ok: true; signal: HealthSignal } | { ok: false; code: 404; error: string }> {
    const settings = this.config.control?.signals.get(name);
    if (!settings) return { ok: false, code: 404, error: `no signal ${name} in control.signals` };
    const at = this.now();
    const signal: HealthSignal = { name, up, reason, who, at, expiresAt: at + (opts.leaseS ?? settings.leaseS) * 1000 };
    const record = { who, action: opts.action ?? 'signal', target: name, why: reason, change: { signal } };
    await this.apply(record, async () => {
      if (opts.deadline !== undefined && this.now() >= opts.deadline)
        throw new StoreTimeoutError('a signal write', false);
      await this.store.put(KEYS.signal(name), signal);
      return true;
    });
    this.log.info({ who, signal: name, up, reason }, 'health signal set');
    return { ok: true, signal };
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
    const key = KEYS.serviceWeight(service, region);
    const record = {
      who,
      action: weight === null ? 'clear-service-weight' : 'service-weight',
      target: `${service}/${region}`,
      why: reason,
      change: weight === null ? null : { weight, expiresInS },
    };
    await this.apply(record, async () => {
      if (weight === null) await this.store.delete(key);
      else {
        const w: ServiceWeightOverride = {
          weight,
          reason,
          who,
          at: t,
          expiresAt: expiresInS ? t + expiresInS * 1000 : undefined,
        };
        await this.store.put(key, w);
      }
      return true;
    });
    this.log.info({ who, service, region, weight, reason }, 'service weight changed');
    return { ok: true };
  }

  /**
   * Runs a store write between two audit records: `pending` first, synced (if it cannot be
   * written the store is not touched: the error reaches the caller), then what became of it:
   * `applied` once the store said so; on a store that did not answer in time `not-applied` when
   * the write certainly never landed, else `unknown` (a frozen etcd applies a transaction it had
   * already taken), and the key is read back until the store answers and a last record says
   * `applied-late` or `not-applied`. A lost compare is `not-applied` (the caller retries it on
   * fresh state, as a new change).
   */
  private async apply(record: Omit<AuditEntry, 'at' | 'outcome'>, write: () => Promise<boolean>): Promise<boolean> {
    this.audit.append({ at: new Date(this.now()).toISOString(), ...record, outcome: 'pending' });
    let applied: boolean;
    try {
      applied = await write();
    } catch (err) {
      const why = `${record.why} (store: ${(err as Error).message})`;
      if (err instanceof StoreTimeoutError && !err.maybeApplied)
        this.record({ ...record, outcome: 'not-applied', why });
      else {
        this.record({ ...record, outcome: 'unknown', why });
        this.chase(record);
      }
      throw err;
    }
    this.record({ ...record, outcome: applied ? 'applied' : 'not-applied' });
    return applied;
  }

  /** Reads back a write of unknown outcome until the store answers, and audits the answer. */
  private chase(record: Omit<AuditEntry, 'at' | 'outcome'>): void {
    const parts = record.change as ChangedParts | null;
    const expect = parts?.override ?? parts?.weight ?? parts?.signal ?? null;
    const key = parts?.signal
      ? KEYS.signal(parts.signal.name)
      : record.action === 'clear-weight' || parts?.weight
        ? KEYS.regionWeight(record.target)
        : record.action.includes('service-weight')
          ? KEYS.serviceWeight(...(record.target.split('/') as [string, string]))
          : KEYS.regionOverride(record.target);
    const started = this.now();
    const tick = async () => {
      this.chasing.delete(timer);
      try {
        const e = await this.store.get<{ at?: number; who?: string }>(key);
        const landed = expect ? e?.value.at === expect.at && e?.value.who === expect.who : e === undefined;
        this.record({ ...record, outcome: landed ? 'applied-late' : 'not-applied' });
      } catch {
        if (this.now() - started < READ_BACK_FOR_MS) ((timer = setTimeout(tick, 2000)), this.chasing.add(timer));
      }
    };
    let timer = setTimeout(tick, 2000);
    this.chasing.add(timer);
  }

  /** An outcome record: the change stands whatever happens here, so a failure is only said loudly. */
  private record(e: Omit<AuditEntry, 'at'>): void {
    try {
      this.audit.append({ at: new Date(this.now()).toISOString(), ...e });
    } catch (err) {
      this.log.error({ err, ...e }, 'audit record of an outcome not written');
    }
  }

  close(): void {
    for (const t of this.chasing) clearTimeout(t);
    this.chasing.clear();
  }
}
