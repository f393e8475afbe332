// A store whose every read keeps the contract: each entry is checked (src/contract/checks.ts);
// an invalid one is skipped, counted, logged once with its key, and the last valid value under
// that key (while its lease holds) is read in its place. Writes pass through. Every process opens
// its store through this (openStore), so no reader sees a value that breaks the contract.
import { entryProblem } from '../contract/index.js';
import type { Entry, PutIfOptions, StateStore, StoreCondition } from './store.js';

export interface InvalidEntry {
  key: string;
  problem: string;
}

export class CheckedStore implements StateStore {
  private readonly lastGood = new Map<string, Entry>();
  private readonly reported = new Map<string, string>();
  /** Invalid entries read so far (gtm_state_invalid_entries_total). */
  invalid = 0;

  constructor(
    readonly inner: StateStore,
    /** Told once per key and problem (a log line). */
    private readonly onInvalid: (e: InvalidEntry) => void = () => undefined,
  ) {}

  private check<T>(entries: Entry[]): Entry<T>[] {
    const now = Date.now();
    const out: Entry<T>[] = [];
    for (const e of entries) {
      const problem = entryProblem(e.key, e.value);
      if (!problem) {
        this.lastGood.set(e.key, e);
        this.reported.delete(e.key);
        out.push(e as Entry<T>);
        continue;
      }
      this.invalid++;
      if (this.reported.get(e.key) !== problem) {
        this.reported.set(e.key, problem);
        this.onInvalid({ key: e.key, problem });
      }
      const last = this.lastGood.get(e.key);
      if (last && (last.expiresAt === undefined || last.expiresAt > now)) out.push(last as Entry<T>);
    }
    if (this.lastGood.size > 100_000) this.lastGood.clear();
    return out;
  }

  async get<T>(key: string): Promise<Entry<T> | undefined> {
    const e = await this.inner.get(key);
    return e ? this.check<T>([e])[0] : undefined;
  }

  async list<T>(prefix: string): Promise<Entry<T>[]> {
    return this.check<T>(await this.inner.list(prefix));
  }

  watch<T>(prefix: string, onChange: (entries: Entry<T>[]) => void): () => void {
    return this.inner.watch(prefix, (entries) => onChange(this.check<T>(entries)));
  }

  put(key: string, value: unknown, opts?: { leaseMs?: number }): Promise<void> {
    return this.inner.put(key, value, opts);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  putIf(conditions: StoreCondition[], key: string, value: unknown, opts?: PutIfOptions): Promise<boolean> {
    return this.inner.putIf(conditions, key, value, opts);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
