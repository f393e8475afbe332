// Publishes this PoP's report to the shared store with a lease (DNS treats an expired lease
// as down): every heartbeat_ms and on every change. A change during a write is published
// right after it, never dropped; callers that await get the write that includes their change.
import type { ControlSettings } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { openStore, type StateStore } from '../state/index.js';
import { AUDIT_RECORD_LEASE_MS, KEYS, type AgentReport, type PopPresence } from '../contract/index.js';

export class Heartbeat {
  private storeHandle?: StateStore;
  private timer?: NodeJS.Timeout;
  private publishing?: Promise<void>;
  private again = false;
  private stopped = false;
  /** Whether this PoP's presence record (`pops/<pop>`) is written, and whether the store refused it once. */
  private present = false;
  private presenceRefused = false;

  constructor(
    private readonly pop: string,
    private readonly control: ControlSettings | undefined,
    private readonly report: () => AgentReport,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    if (!this.control) return;
    this.storeHandle = await openStore(this.control.store, this.log);
    this.timer = setInterval(() => void this.publish(), this.control.heartbeatMs);
    void this.publish();
  }

  /** The open store (the guard rail reads the fleet through it), once started. */
  get store(): StateStore | undefined {
    return this.storeHandle;
  }

  publish(): Promise<void> {
    const store = this.storeHandle;
    const control = this.control;
    if (!store || !control) return Promise.resolve();
    if (this.publishing) {
      this.again = true;
      return this.publishing;
    }
    this.publishing = (async () => {
      try {
        do {
          this.again = false;
          try {
            const report = this.report();
            await store.put(KEYS.agent(this.pop), report, { leaseMs: control.leaseMs });
            if (!this.present) await this.markPresent(store, report);
          } catch (err) {
            this.log.warn({ err: (err as Error).message }, 'could not publish the heartbeat');
          }
        } while (this.again && !this.stopped);
      } finally {
        this.publishing = undefined;
      }
    })();
    return this.publishing;
  }

  /**
   * Once: this PoP has reported, so its silence from now on reads as down, not unknown. A store
   * that refuses it (an etcd role made before `pops/` existed: run `gtm store rbac` again) is
   * said once; the heartbeat itself goes on.
   */
  private async markPresent(store: StateStore, report: AgentReport): Promise<void> {
    const presence: PopPresence = { pop: this.pop, region: report.region, since: report.at };
    try {
      await store.put(KEYS.pop(this.pop), presence);
      this.present = true;
    } catch (err) {
      if (!this.presenceRefused)
        this.log.warn(
          { err: (err as Error).message, key: KEYS.pop(this.pop) },
          'could not record that this PoP has reported',
        );
      this.presenceRefused = true;
    }
  }

  private audits = 0;

  /** Puts an audit record in the shared store, where the control plane's audit view reads it. */
  async audit(e: { who: string; action: string; target: string; why: string }): Promise<void> {
    if (!this.storeHandle) return;
    const at = new Date().toISOString();
    try {
      await this.storeHandle.put(
        KEYS.auditRecord(this.pop, at, e.who, this.audits++),
        { at, ...e, change: null },
        { leaseMs: AUDIT_RECORD_LEASE_MS },
      );
    } catch (err) {
      this.log.error({ err: (err as Error).message, audit: e }, 'could not write the audit record to the shared store');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.storeHandle?.close();
  }
}
