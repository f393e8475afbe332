// `gtm store rbac`: etcd's roles for this deployment (who may write which keys), printed, or
// applied with --apply.
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/index.js';
import { storeRoles } from '../contract/index.js';

const USAGE = `usage: gtm store rbac --config FILE [--probe NAME]... [--apply --secrets DIR]
  Prints etcd's roles for this config (one user per PoP agent and per probe, gtm-dns, gtm-control).
  --apply   makes them in etcd as its root user (GTM_ETCD_ROOT_PASSWORD), writes new users'
            passwords to DIR/<user> (0600), and turns etcd's authentication on.
`;

export async function storeCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'rbac') {
    process.stderr.write(USAGE);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      probe: { type: 'string', multiple: true },
      apply: { type: 'boolean' },
      secrets: { type: 'string' },
    },
  });
  if (!values.config || (values.apply && !values.secrets)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = loadConfigFile(values.config);
  const store = config.control?.store;
  if (store?.kind !== 'etcd') throw new Error(`${values.config}: control.store is not etcd`);
  const roles = storeRoles(
    config.pops.map((p) => p.name),
    values.probe ?? [],
  );
  for (const r of roles) {
    process.stdout.write(`${r.name}  (${r.for})\n`);
    for (const g of r.grants) {
      const where = 'key' in g.range ? `${store.prefix}${g.range.key}` : `${store.prefix}${g.range.prefix}*`;
      process.stdout.write(`  ${g.permission.toLowerCase().padEnd(9)} ${where}\n`);
    }
  }
  if (!values.apply) return 0;
  const { applyStoreRoles } = await import('../state/etcd-rbac.js');
  const r = await applyStoreRoles({
    endpoints: store.endpoints,
    prefix: store.prefix,
    tls: store.tls,
    rootPasswordEnv: 'GTM_ETCD_ROOT_PASSWORD',
    roles,
    secretsDir: values.secrets as string,
  });
  for (const c of r.created) process.stdout.write(`created ${c.user}: password in ${c.passwordFile}\n`);
  for (const k of r.kept) process.stdout.write(`kept ${k} (its password is unchanged)\n`);
  process.stdout.write(`etcd authentication: ${r.authEnabled ? 'on' : 'off'}\n`);
  return 0;
}
