// `gtm check-config`, `gtm geo status`, `gtm token`: one-shot tools.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MIN_TOKEN_LENGTH, hashToken, newToken } from '../auth/index.js';
import { loadConfigFile, summarise } from '../config/index.js';
import { prepareForWorkers, SerialKeeper } from '../dns/index.js';
import { loadZoneKeys, tagOf } from '../dnssec/index.js';
import { GeoResolver } from '../geo/index.js';

export function checkConfig(args: string[]): number {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    process.stderr.write('usage: gtm check-config FILE\n');
    return 2;
  }
  const config = loadConfigFile(file);
  GeoResolver.open(config.geo.database, config.geo.asnDatabase);
  // Signed zones: their key files are read and must be able to sign now, as gtm dns requires.
  const keys = loadZoneKeys(config);
  new SerialKeeper(config.dns.serialFile).assign(config, { persist: false });
  prepareForWorkers(config, keys);
  const serials = config.zones.map(
    (z) =>
      `  ${z.name}: SOA serial ${z.soa.serial}${z.soa.auto ? ` (auto${config.dns.serialFile ? `, kept in ${config.dns.serialFile}` : ', kept in memory'})` : ''}\n`,
  );
  process.stdout.write(
    `${file}: OK\n${summarise(config)
      .map((l) => `  ${l}\n`)
      .join('')}${[...keys]
      .map(
        ([zone, ks]) => `  ${zone}: signed, keys ${ks.map((k) => `${k.role.toUpperCase()} ${tagOf(k)}`).join(', ')}\n`,
      )
      .join('')}${serials.join('')}`,
  );
  return 0;
}

/** `gtm geo status`: which data answers "where is this client", and how old it is. */
export function geoCommand(args: string[]): number {
  const { values, positionals } = parseArgs({ args, options: { config: { type: 'string' } }, allowPositionals: true });
  if (positionals[0] !== 'status' || positionals.length !== 1) {
    process.stderr.write('usage: gtm geo status [--config FILE]\n');
    return 2;
  }
  const settings = values.config ? loadConfigFile(values.config).geo : undefined;
  const geo = GeoResolver.open(settings?.database, settings?.asnDatabase);
  const now = Date.now();
  for (const s of geo.sources) {
    const days = Math.floor((now - s.builtAt.getTime()) / 86_400_000);
    process.stdout.write(
      `source: ${s.type}${s.family ? ` (IPv${s.family})` : ''}\n  file: ${s.path}\n  built: ${s.builtAt.toISOString()} (${days} days ago)\n`,
    );
  }
  const sub = geo.subdivisionTable;
  process.stdout.write(`subdivision codes: ${sub.names} names from ${sub.source}\n`);
  if (geo.attribution) process.stdout.write(`licence: ${geo.attribution}\n`);
  // Read only when a fence rule matches by AS (geo.asn_database).
  const asn = geo.asnData;
  if (asn) process.stdout.write(`asn data: ${asn.source}, ${asn.ranges} ranges (for fence rules by AS)\n`);
  if (geo.asnAttribution) process.stdout.write(`asn licence: ${geo.asnAttribution}\n`);
  process.stdout.write(
    'update: npm update (the packaged data), then SIGHUP to gtm dns; or geo.reload_cron for a file updated in place\n',
  );
  return 0;
}

/** `gtm token new [NAME]` and `gtm token hash`: the config keeps only a token's SHA-256. */
export function tokenCommand(args: string[]): number {
  const [verb, name = 'operator'] = args;
  if (verb === 'new') {
    const token = newToken();
    process.stdout.write(
      `token: ${token}\nconfig (control.api.tokens): - { name: ${name}, sha256: ${hashToken(token)}, scopes: [drain] }\n`,
    );
    return 0;
  }
  if (verb === 'hash') {
    const token = readFileSync(0, 'utf8').trim();
    if (token.length < MIN_TOKEN_LENGTH) {
      process.stderr.write(`gtm token hash: a token needs at least ${MIN_TOKEN_LENGTH} characters\n`);
      return 1;
    }
    process.stdout.write(`${hashToken(token)}\n`);
    return 0;
  }
  process.stderr.write('usage: gtm token new [NAME] | gtm token hash < TOKEN_FILE\n');
  return 2;
}
