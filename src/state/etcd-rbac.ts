// Applies the store's roles (src/contract/store-access.ts) to etcd: one role and one user per
// process kind, each PoP's agent and each probe on its own, then etcd's authentication on. Run
// once per deployment (and again when PoPs or probes are added): roles and permissions are
// granted again each time; users that exist keep their passwords.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3, Range } from 'etcd3';
import type { StoreRange, StoreRole } from '../contract/index.js';
import { etcdClientOptions, type EtcdAccess } from './etcd-store.js';

export interface RbacResult {
  /** Users made now, with where their password was written. */
  created: { user: string; passwordFile: string }[];
  /** Users that existed (their passwords are unchanged). */
  kept: string[];
  authEnabled: boolean;
}

const exists = (err: unknown) => /already exists/i.test((err as Error).message);

/**
 * As etcd's root (`rootPasswordEnv`; the root user is made with it if etcd has none yet), makes
 * every role with its permissions on `prefix` + range and a user holding it; new users get a
 * random password written to `secretsDir/<user>` (0600). Then enables authentication.
 */
export async function applyStoreRoles(opts: {
  endpoints: string[];
  prefix: string;
  tls?: EtcdAccess['tls'];
  rootPasswordEnv: string;
  roles: StoreRole[];
  secretsDir: string;
}): Promise<RbacResult> {
  const rootPassword = process.env[opts.rootPasswordEnv];
  if (!rootPassword) throw new Error(`${opts.rootPasswordEnv} is not set (the password of etcd's root user)`);
  const client = await rootClient(opts.endpoints, opts.tls, opts.rootPasswordEnv);
  const result: RbacResult = { created: [], kept: [], authEnabled: false };
  try {
    const range = (r: StoreRange) =>
      'key' in r ? { key: `${opts.prefix}${r.key}` } : { range: Range.prefix(`${opts.prefix}${r.prefix}`) };
    for (const role of [{ name: 'root', for: 'etcd root', grants: [] } as StoreRole, ...opts.roles]) {
      await client
        .role(role.name)
        .create()
        .catch((err) => void (exists(err) || Promise.reject(err)));
      for (const g of role.grants) await client.role(role.name).grant({ permission: g.permission, ...range(g.range) });
    }
    const users = new Set((await client.getUsers()).map((u) => u.name));
    if (!users.has('root')) await client.user('root').create(rootPassword);
    await client.user('root').addRole('root');
    mkdirSync(opts.secretsDir, { recursive: true, mode: 0o700 });
    for (const role of opts.roles) {
      if (users.has(role.name)) result.kept.push(role.name);
      else {
        const password = randomBytes(24).toString('base64url');
        await client.user(role.name).create(password);
        const passwordFile = join(opts.secretsDir, role.name);
        writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
        result.created.push({ user: role.name, passwordFile });
      }
      await client.user(role.name).addRole(role.name);
    }
    await client.auth.authEnable();
    result.authEnabled = true;
    return result;
  } finally {
    client.close();
  }
}

/** A client as etcd's root: without credentials while authentication is off, with them once it is on. */
async function rootClient(endpoints: string[], tls: EtcdAccess['tls'], passwordEnv: string): Promise<Etcd3> {
  const open = (auth?: EtcdAccess['auth']) =>
    new Etcd3({ hosts: endpoints, dialTimeout: 3000, ...etcdClientOptions({ tls, auth }) });
  const plain = open();
  try {
    await plain.getRoles();
    return plain;
  } catch (err) {
    plain.close();
    if (!/user name is empty|permission denied|invalid auth token|authentication/i.test((err as Error).message))
      throw err;
    const root = open({ user: 'root', passwordEnv });
    await root.getRoles(); // fails here, with etcd's reason, if the root password is wrong
    return root;
  }
}
