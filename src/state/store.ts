// Shared state: one interface, an embedded file implementation for a single machine
// (agents, DNS servers and the control plane on one host share it) and etcd for several.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  watch,
  writeFileSync,
  writeSync,
  type FSWatcher,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { isLive } from '../contract/index.js';

export interface Entry<T = unknown> {
  key: string;
  value: T;
  /** Store revision when this entry was last written. */
  rev: number;
  /** Epoch ms after which the entry is gone (a lease); absent = permanent. */
  expiresAt?: number;
}

export interface StateStore {
  get<T>(key: string): Promise<Entry<T> | undefined>;
  list<T>(prefix: string): Promise<Entry<T>[]>;
  put(key: string, value: unknown, opts?: { leaseMs?: number }): Promise<void>;
  delete(key: string): Promise<void>;
  /** Calls `onChange` with the full current list under `prefix` after every change. */
  watch<T>(prefix: string, onChange: (entries: Entry<T>[]) => void): () => void;
  /**
   * Writes `key` only if every condition still holds (`rev`: the key is at that revision;
   * undefined: the key does not exist), as one atomic step; false when one no longer holds.
   * What a check-then-write (the guard rail) needs so two writers cannot both pass it.
   */
  putIf(conditions: StoreCondition[], key: string, value: unknown, opts?: PutIfOptions): Promise<boolean>;
  close(): Promise<void>;
}

export interface PutIfOptions {
  /**
   * Epoch ms after which the write must not happen at all: the caller has given up (told its
   * client 503). Past it the store throws StoreTimeoutError and never applies the write later.
   */
  deadline?: number;
  /** More keys written in the same atomic step (e.g. an idempotency record). */
  also?: { key: string; value: unknown }[];
}

/** The store could not be reached (etcd down or unreachable): the operation was not done. */
export class StoreUnavailableError extends Error {
  constructor(detail: string) {
    super(`the shared state store is unavailable (${detail})`);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The store of a deployment without shared state (no `control` section): it holds nothing, so
 * the merge decides from the config alone, through the same code as with a store. Writes are
 * refused.
 */
export class NoStore implements StateStore {
  async get<T>(): Promise<Entry<T> | undefined> {
    return undefined;
  }
  async list<T>(): Promise<Entry<T>[]> {
    return [];
  }
  async put(): Promise<void> {
    throw new StoreUnavailableError('no shared store is configured');
  }
  async delete(): Promise<void> {
    throw new StoreUnavailableError('no shared store is configured');
  }
  async putIf(): Promise<boolean> {
    throw new StoreUnavailableError('no shared store is configured');
  }
  watch<T>(_prefix: string, onChange: (entries: Entry<T>[]) => void): () => void {
    queueMicrotask(() => onChange([]));
    return () => undefined;
  }
  async close(): Promise<void> {}
}

/**
 * The store did not complete an operation before its deadline. `maybeApplied`: whether the
 * write may still land (it reached the store, which may apply it later: a frozen etcd that had
 * taken the transaction) or certainly will not (refused before it was sent, or fenced off).
 */
export class StoreTimeoutError extends Error {
  constructor(
    what: string,
    readonly maybeApplied = true,
  ) {
    super(`the shared state store did not complete ${what} in time`);
    this.name = 'StoreTimeoutError';
  }
}

export interface StoreCondition {
  key: string;
  rev?: number;
}

interface FileDoc {
  rev: number;
  entries: Record<string, Omit<Entry, 'key'>>;
}

const LOCK_STALE_MS = 5000;

/** The process named in a lock file ("PID TOKEN"), if it is gone: its lock can be broken at once. */
function holderGone(lock: string): boolean {
  try {
    const pid = Number(readFileSync(lock, 'utf8').split(' ')[0]);
    if (!(pid > 0)) return false;
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** The shape every reader checks: a truncated or foreign file must not pass for empty state. */
function isFileDoc(d: unknown): d is FileDoc {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return false;
  const doc = d as { rev?: unknown; entries?: unknown };
  if (
    !Number.isInteger(doc.rev) ||
    typeof doc.entries !== 'object' ||
    doc.entries === null ||
    Array.isArray(doc.entries)
  )
    return false;
  return Object.values(doc.entries as object).every(
    (e) =>
      typeof e === 'object' &&
      e !== null &&
      Number.isInteger((e as { rev?: unknown }).rev) &&
      ((e as { expiresAt?: unknown }).expiresAt === undefined ||
        typeof (e as { expiresAt?: unknown }).expiresAt === 'number'),
  );
}

/**
 * A JSON document on local disk. Writes take a lock file (O_EXCL), read-modify-write,
 * write a temp file, fsync it, rename it over the old one and fsync the directory, so a
 * crash leaves either the old or the new state and concurrent writers lose nothing.
 */
export class FileStateStore implements StateStore {
  private readonly watchers = new Set<() => void>();
  private fsWatcher?: FSWatcher;
  private poll?: NodeJS.Timeout;
  /** The last document read whole: watchers keep expiring its leases on the clock while the file is unreadable. */
  private lastGood?: FileDoc;
  private readonly errorListeners = new Set<(err: Error | undefined) => void>();
  private failing = false;
  /** Reads that failed (a corrupt or foreign file): exported as gtm_state_read_errors_total. */
  readErrors = 0;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  /** Called when reads start failing (with the error) and when they work again (undefined). */
  onReadError(listener: (err: Error | undefined) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  private read(): FileDoc {
    if (!existsSync(this.path)) return { rev: 0, entries: {} };
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(this.path, 'utf8'));
      if (!isFileDoc(doc)) throw new Error('not a state document ({"rev": N, "entries": {...}})');
    } catch (err) {
      this.readErrors++;
      const e = new Error(
        `state file ${this.path} is unreadable (${(err as Error).message}); refusing to overwrite it; ` +
          `the previous good version is ${this.path}.last-good`,
      );
      if (!this.failing) for (const l of this.errorListeners) l(e);
      this.failing = true;
      throw e;
    }
    if (this.failing) for (const l of this.errorListeners) l(undefined);
    this.failing = false;
    this.lastGood = doc;
    return doc;
  }

  /**
   * Runs `f` on the document under the lock; writes the document back unless `changed` says f
   * left it alone. The lock file names its holder ("PID TOKEN"): a dead holder's lock is broken
   * at once, a live one's after LOCK_STALE_MS (a frozen writer). The write is fenced: it lands
   * only if the lock still holds our token and the file is still at the revision `f` read, so a
   * writer frozen past its lock and thawed later fails instead of writing back a stale document.
   */
  private async locked<T>(
    f: (doc: FileDoc) => T,
    until?: number,
    changed: (out: T) => boolean = () => true,
  ): Promise<T> {
    const lock = `${this.path}.lock`;
    const token = `${process.pid} ${randomBytes(8).toString('hex')}`;
    const deadline = Math.min(until ?? Infinity, Date.now() + 10_000);
    for (;;) {
      try {
        const fd = openSync(lock, 'wx');
        try {
          writeSync(fd, token);
        } finally {
          closeSync(fd);
        }
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // A writer that died or froze holding the lock must not block everyone.
        try {
          if (holderGone(lock) || Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
        } catch {
          /* gone meanwhile */
        }
        if (Date.now() > deadline) throw new StoreTimeoutError(`a write (${this.path} stayed locked)`, false);
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    try {
      // Every write renames a new inode over the file: the inode names the version f read.
      const readIno = this.inode();
      const doc = this.read();
      const out = f(doc);
      if (changed(out)) {
        doc.rev++;
        this.writeAtomic(doc, () => this.stillOurs(lock, token, readIno));
      }
      return out;
    } finally {
      try {
        if (readFileSync(lock, 'utf8') === token) unlinkSync(lock);
      } catch {
        /* already removed as stale */
      }
    }
  }

  private inode(): number | undefined {
    return existsSync(this.path) ? statSync(this.path).ino : undefined;
  }

  /**
   * Whether we still hold the lock and the file is the version we read (the write's fence).
   * Two small reads, no parse: a writer frozen between the fence and its rename still writes
   * back a stale document, so that window must stay as short as the fence can make it. (It
   * parsed the whole document once: frozen inside that parse, a writer passed the fence late.)
   */
  private stillOurs(lock: string, token: string, ino: number | undefined): boolean {
    try {
      return readFileSync(lock, 'utf8') === token && this.inode() === ino;
    } catch {
      return false;
    }
  }

  private writeAtomic(doc: FileDoc, fence: () => boolean): void {
    const tmp = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.tmp`);
    const data = Buffer.from(JSON.stringify(doc));
    const fd = openSync(tmp, 'w');
    try {
      for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (!fence()) {
      unlinkSync(tmp);
      throw new StoreTimeoutError(`a write (${this.path}: the lock was lost while writing; not applied)`, false);
    }
    renameSync(tmp, this.path);
    // A second copy, on its own inode, to restore from if something other than us damages the
    // file (an editor, a truncating copy). Not fsync'ed: the state file itself is.
    const copy = `${tmp}.last-good`;
    writeFileSync(copy, data);
    renameSync(copy, `${this.path}.last-good`);
    const dfd = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  private live(doc: FileDoc, prefix: string, now = Date.now()): Entry[] {
    return Object.entries(doc.entries)
      .filter(([k, e]) => k.startsWith(prefix) && isLive(e, now))
      .map(([key, e]) => ({ key, ...e }))
      .sort((a, b) => a.key.localeCompare(b.key));
  }

  async get<T>(key: string): Promise<Entry<T> | undefined> {
    return this.live(this.read(), key).find((e) => e.key === key) as Entry<T> | undefined;
  }

  async list<T>(prefix: string): Promise<Entry<T>[]> {
    return this.live(this.read(), prefix) as Entry<T>[];
  }

  async put(key: string, value: unknown, opts: { leaseMs?: number } = {}): Promise<void> {
    await this.locked((doc) => {
      const now = Date.now();
      // Drop expired leases while we hold the lock, so the file does not grow.
      for (const [k, e] of Object.entries(doc.entries))
        if (e.expiresAt !== undefined && e.expiresAt <= now) delete doc.entries[k];
      doc.entries[key] = { value, rev: doc.rev + 1, ...(opts.leaseMs ? { expiresAt: now + opts.leaseMs } : {}) };
    });
    this.notify();
  }

  async putIf(conditions: StoreCondition[], key: string, value: unknown, opts: PutIfOptions = {}): Promise<boolean> {
    const ok = await this.locked(
      (doc) => {
        const now = Date.now();
        // Checked under the lock, before anything is written: a late write cannot happen.
        if (opts.deadline !== undefined && now > opts.deadline)
          throw new StoreTimeoutError('a conditional write', false);
        const holds = conditions.every((c) => {
          const e = doc.entries[c.key];
          return c.rev === undefined ? !isLive(e, now) : isLive(e, now) && e?.rev === c.rev;
        });
        if (holds)
          for (const w of [{ key, value }, ...(opts.also ?? [])])
            doc.entries[w.key] = { value: w.value, rev: doc.rev + 1 };
        return holds;
      },
      opts.deadline,
      (holds) => holds,
    ); // a refused write leaves the file untouched
    if (ok) this.notify();
    return ok;
  }

  async delete(key: string): Promise<void> {
    await this.locked((doc) => void delete doc.entries[key]);
    this.notify();
  }

  watch<T>(prefix: string, onChange: (entries: Entry<T>[]) => void): () => void {
    let last = '';
    const fire = () => {
      let doc: FileDoc | undefined;
      try {
        doc = this.read();
      } catch {
        // Writes are atomic (rename), so this is a corrupt file, already reported. Keep the
        // last good state and let its leases expire on the clock: a dead agent still drops out.
        doc = this.lastGood;
      }
      if (!doc) return;
      const entries = this.live(doc, prefix);
      const sig = JSON.stringify(entries.map((e) => [e.key, e.rev]));
      if (sig !== last) {
        last = sig;
        onChange(entries as Entry<T>[]);
      }
    };
    this.watchers.add(fire);
    this.startWatching();
    queueMicrotask(fire);
    return () => this.watchers.delete(fire);
  }

  private notify(): void {
    for (const w of this.watchers) w();
  }

  private startWatching(): void {
    if (this.fsWatcher) return;
    // fs.watch for speed; a 100 ms poll as a safety net (and to notice lease expiry).
    this.fsWatcher = watch(dirname(this.path), (_e, f) => {
      if (f === null || f === basename(this.path)) this.notify();
    });
    // Watchers compare revisions themselves, so notifying on every tick is cheap and safe.
    this.poll = setInterval(() => this.notify(), 100);
    this.poll.unref();
  }

  async close(): Promise<void> {
    this.fsWatcher?.close();
    clearInterval(this.poll);
    this.watchers.clear();
  }
}
