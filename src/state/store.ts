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
  writeSync,
  type FSWatcher,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

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
  putIf(conditions: StoreCondition[], key: string, value: unknown): Promise<boolean>;
  close(): Promise<void>;
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

/**
 * A JSON document on local disk. Writes take a lock file (O_EXCL), read-modify-write,
 * write a temp file, fsync it, rename it over the old one and fsync the directory, so a
 * crash leaves either the old or the new state and concurrent writers lose nothing.
 */
export class FileStateStore implements StateStore {
  private readonly watchers = new Set<() => void>();
  private fsWatcher?: FSWatcher;
  private poll?: NodeJS.Timeout;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  private read(): FileDoc {
    if (!existsSync(this.path)) return { rev: 0, entries: {} };
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as FileDoc;
    } catch (err) {
      throw new Error(`state file ${this.path} is unreadable (${(err as Error).message}); refusing to overwrite it`);
    }
  }

  private async locked<T>(f: (doc: FileDoc) => T): Promise<T> {
    const lock = `${this.path}.lock`;
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        closeSync(openSync(lock, 'wx'));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // A writer that died holding the lock must not block everyone forever.
        try {
          if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS) unlinkSync(lock);
        } catch {
          /* gone meanwhile */
        }
        if (Date.now() > deadline) throw new Error(`state file ${this.path}: lock held too long`);
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    try {
      const doc = this.read();
      const out = f(doc);
      doc.rev++;
      this.writeAtomic(doc);
      return out;
    } finally {
      try {
        unlinkSync(lock);
      } catch {
        /* already removed as stale */
      }
    }
  }

  private writeAtomic(doc: FileDoc): void {
    const tmp = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(doc));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dfd = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  private live(doc: FileDoc, prefix: string, now = Date.now()): Entry[] {
    return Object.entries(doc.entries)
      .filter(([k, e]) => k.startsWith(prefix) && (e.expiresAt === undefined || e.expiresAt > now))
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

  async putIf(conditions: StoreCondition[], key: string, value: unknown): Promise<boolean> {
    const ok = await this.locked((doc) => {
      const now = Date.now();
      const holds = conditions.every((c) => {
        const e = doc.entries[c.key];
        const live = e !== undefined && (e.expiresAt === undefined || e.expiresAt > now);
        return c.rev === undefined ? !live : live && e.rev === c.rev;
      });
      if (holds) doc.entries[key] = { value, rev: doc.rev + 1 };
      return holds;
    });
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
      let entries: Entry[];
      try {
        entries = this.live(this.read(), prefix);
      } catch {
        return; // mid-write by another process; the next event catches up
      }
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
