// etcd implementation of the state store, for several DNS servers, agents and control
// planes across machines (Debian etcd-server, client `etcd3` from the npm registry).
// Leases are renewed only by the writer's own heartbeats (no automatic keepalive), so a
// stuck agent loses its lease just like a dead one.
import {
  Etcd3,
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
  isRecoverableError,
  type IKeyValue,
  type Lease,
} from 'etcd3';
import { readFileSync } from 'node:fs';
import { UNREADABLE } from '../contract/index.js';
import {
  StoreTimeoutError,
  StoreUnavailableError,
  type Entry,
  type PutIfOptions,
  type StateStore,
  type StoreCondition,
} from './store.js';

/** Watch events arriving within this time reach the watcher as one change. */
const WATCH_BATCH_MS = 20;

/**
 * A stored value, parsed. Anyone who reaches etcd can write anything under our prefix: a value
 * that is not JSON is read as a marker the contract check refuses (one bad entry costs itself),
 * never thrown at the reader.
 */
function parseValue<T>(raw: Buffer): T {
  try {
    return JSON.parse(raw.toString()) as T;
  } catch {
    return { [UNREADABLE]: raw.subarray(0, 60).toString() } as T;
  }
}

/** How etcd knows this process: TLS (CA, client certificate) and a user, read when the store opens. */
export interface EtcdAccess {
  tls?: { ca: string; cert?: string; key?: string };
  auth?: { user?: string; userEnv?: string; passwordEnv: string };
}

/** etcd3's client options for `access`; a missing file or variable is an error naming it. */
export function etcdClientOptions(access: EtcdAccess, env: NodeJS.ProcessEnv = process.env) {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`control.store.tls.${what}: ${(err as Error).message}`);
    }
  };
  const { tls, auth } = access;
  const credentials = tls && {
    rootCertificate: read('ca', tls.ca),
    ...(tls.cert && tls.key ? { certChain: read('cert', tls.cert), privateKey: read('key', tls.key) } : {}),
  };
  let login: { username: string; password: string } | undefined;
  if (auth) {
    const username = auth.user ?? env[auth.userEnv ?? ''];
    if (!username) throw new Error(`control.store.auth.user_env: ${auth.userEnv} is not set`);
    const password = env[auth.passwordEnv];
    if (!password) throw new Error(`control.store.auth.password_env: ${auth.passwordEnv} is not set`);
    login = { username, password };
  }
  return { ...(credentials ? { credentials } : {}), ...(login ? { auth: login } : {}) };
}

export class EtcdStateStore implements StateStore {
  private readonly client: Etcd3;
  /** One lease per leased key, renewed on each put of that key. */
  private readonly leases = new Map<string, { lease: Lease; ttl: number }>();
  private readonly cancels = new Set<() => void>();

  constructor(
    readonly endpoints: string[],
    readonly prefix: string,
    access: EtcdAccess = {},
  ) {
    // Every unary call carries a deadline, which gRPC passes to etcd: a call that reaches a
    // frozen etcd fails here after 3 s instead of hanging (streams, the watches, have none).
    this.client = new Etcd3({
      ...etcdClientOptions(access),
      hosts: endpoints,
      dialTimeout: 3000,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 3000 }),
    });
  }

  private k(key: string): string {
    return `${this.prefix}${key}`;
  }

  async get<T>(key: string): Promise<Entry<T> | undefined> {
    return this.typed(async () => {
      const r = await this.client.get(this.k(key)).exec();
      const kv = r.kvs[0];
      return kv ? { key, value: parseValue<T>(kv.value), rev: Number(kv.mod_revision) } : undefined;
    });
  }

  async list<T>(prefix: string): Promise<Entry<T>[]> {
    return this.typed(async () => {
      const r = await this.client.getAll().prefix(this.k(prefix)).exec();
      return r.kvs
        .map((kv) => ({
          key: kv.key.toString().slice(this.prefix.length),
          value: parseValue<T>(kv.value),
          rev: Number(kv.mod_revision),
        }))
        .sort((a, b) => a.key.localeCompare(b.key));
    });
  }

  async put(key: string, value: unknown, opts: { leaseMs?: number } = {}): Promise<void> {
    return this.typed(async () => {
      const data = JSON.stringify(value);
      if (!opts.leaseMs) {
        await this.client.put(this.k(key)).value(data);
        return;
      }
      // etcd leases have whole-second TTLs; round up so the lease is never shorter than asked.
      const ttl = Math.max(1, Math.ceil(opts.leaseMs / 1000));
      let held = this.leases.get(key);
      if (held && held.ttl !== ttl) {
        await held.lease.revoke().catch(() => undefined);
        held = undefined;
      }
      if (held) {
        try {
          await held.lease.keepaliveOnce();
          await held.lease.put(this.k(key)).value(data);
          return;
        } catch {
          this.leases.delete(key); // expired meanwhile: take a new one
        }
      }
      const lease = this.client.lease(ttl, { autoKeepAlive: false });
      await lease.put(this.k(key)).value(data);
      this.leases.set(key, { lease, ttl });
    });
  }

  async putIf(conditions: StoreCondition[], key: string, value: unknown, opts: PutIfOptions = {}): Promise<boolean> {
    return this.typed(async () => {
      // One etcd transaction: every compare, then the puts, or nothing. Its gRPC deadline is the
      // caller's: etcd does not propose a request whose deadline has passed when it reads it, but
      // a request it had already taken when it froze is applied when it thaws. So past the
      // deadline the outcome is unknown (StoreTimeoutError.maybeApplied), never "not applied".
      if (opts.deadline !== undefined && Date.now() >= opts.deadline)
        throw new StoreTimeoutError('a conditional write', false);
      const puts = [{ key, value }, ...(opts.also ?? [])].map((w) =>
        this.client.put(this.k(w.key)).value(JSON.stringify(w.value)),
      );
      // With no condition, one that always holds: the puts still go as one transaction.
      const [first, ...rest] = conditions;
      if (!first) {
        await this.client
          .if(this.k(key), 'Version', '>', -1)
          .then(...puts)
          .options(this.until(opts.deadline))
          .commit();
        return true;
      }
      const cmp = (c: StoreCondition) => (c.rev === undefined ? (['Version', 0] as const) : (['Mod', c.rev] as const));
      const [col, val] = cmp(first);
      let txn = this.client.if(this.k(first.key), col, '==', val);
      for (const c of rest) {
        const [cc, cv] = cmp(c);
        txn = txn.and(this.k(c.key), cc, '==', cv);
      }
      const r = await txn
        .then(...puts)
        .options(this.until(opts.deadline))
        .commit();
      return r.succeeded;
    });
  }

  private until(deadline: number | undefined): { deadline: Date } | undefined {
    return deadline === undefined ? undefined : { deadline: new Date(deadline) };
  }

  /**
   * etcd's failures as the store's typed errors: a deadline that passed is a StoreTimeoutError
   * (outcome unknown: the request may have been taken before etcd stalled); etcd unreachable (gRPC
   * UNAVAILABLE, a failed connect, the client's open circuit breaker) a StoreUnavailableError.
   */
  private async typed<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof GRPCDeadlineExceededError) throw new StoreTimeoutError('an etcd call');
      const e = err as Error & { isBrokenCircuitError?: boolean };
      if (err instanceof GRPCUnavailableError || e.isBrokenCircuitError || isRecoverableError(e))
        throw new StoreUnavailableError(e.message);
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    return this.typed(async () => {
      await this.client.delete().key(this.k(key));
    });
  }

  /**
   * Keeps a copy of the prefix from the watch's own events: one put or delete changes one key,
   * with no read of the whole prefix (which at a thousand agents took seconds per change).
   * A full read happens only when the watch (re)connects, and is merged by revision so an event
   * newer than that read is never undone by it. Changes arriving together are handed on
   * together (at most one call per WATCH_BATCH_MS).
   */
  watch<T>(prefix: string, onChange: (entries: Entry<T>[]) => void): () => void {
    let stopped = false;
    let watcher: { cancel(): Promise<void> } | undefined;
    const known = new Map<string, Entry<T> | { key: string; deleted: true; rev: number }>();
    let pending: NodeJS.Timeout | undefined;
    let ready = false;
    const flush = () => {
      pending = undefined;
      if (stopped || !ready) return;
      const entries: Entry<T>[] = [];
      for (const e of known.values()) if (!('deleted' in e)) entries.push(e);
      onChange(entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
    };
    const changed = () => (pending ??= setTimeout(flush, WATCH_BATCH_MS));
    const apply = (key: string, rev: number, value: T | undefined) => {
      const old = known.get(key);
      if (old && old.rev > rev) return; // an older view of this key than the one we hold
      known.set(key, value === undefined ? { key, deleted: true, rev } : { key, value, rev });
      changed();
    };
    const keyOf = (kv: IKeyValue) => kv.key.toString().slice(this.prefix.length);
    const resync = () =>
      void this.typed(() => this.client.getAll().prefix(this.k(prefix)).exec()).then(
        (r) => {
          const at = Number(r.header.revision);
          const listed = new Set<string>();
          for (const kv of r.kvs) {
            listed.add(keyOf(kv));
            apply(keyOf(kv), Number(kv.mod_revision), parseValue<T>(kv.value));
          }
          // Gone at the read's revision, and not written since: forgotten (tombstone included).
          for (const [key, e] of known) if (!listed.has(key) && e.rev <= at) known.delete(key);
          ready = true;
          changed();
        },
        () => undefined, // etcd unreachable: the watcher reconnects and we read again then
      );
    void this.client
      .watch()
      .prefix(this.k(prefix))
      .create()
      .then((w) => {
        if (stopped) return void w.cancel();
        watcher = w;
        w.on('put', (kv) => apply(keyOf(kv), Number(kv.mod_revision), parseValue<T>(kv.value)))
          .on('delete', (kv) => apply(keyOf(kv), Number(kv.mod_revision), undefined))
          .on('connected', resync);
        resync();
      });
    const cancel = () => {
      stopped = true;
      clearTimeout(pending);
      void watcher?.cancel();
    };
    this.cancels.add(cancel);
    return () => {
      cancel();
      this.cancels.delete(cancel);
    };
  }

  async close(): Promise<void> {
    for (const c of this.cancels) c();
    this.client.close();
  }
}
