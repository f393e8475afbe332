// Public entry of the config capability: load, validate and summarise the one YAML file
// that declares zones, regions and steered services.
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describePolicy } from '../policy/index.js';
import { parseConfigObject } from './schema.js';
import type { Config, FlapDamping } from './types.js';
import { emit, type EventSink } from '../contract/index.js';
import type { ZoneFileReader } from './zones.js';
import { readYaml } from './yaml.js';

export type * from './types.js';
export { ALERT_EVENTS, TRANSFER_RENDITIONS } from './types.js';
export { absoluteName } from './schema.js';
export { zoneContentOf } from './zones.js';
export { MAX_CNAME_CHAIN } from './limits.js';
export { describePolicy } from '../policy/index.js';
export { parseHostPort } from '../validate/index.js';

/** Thrown when a config is refused; `problems` lists every problem by path. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export function parseConfigText(text: string, file?: string): Config {
  const yaml = readYaml(text);
  if (!yaml.ok) throw new ConfigError(yaml.problems, file);
  const { config, problems } = parseConfigObject(yaml.value, zoneFileReader(file));
  if (!config) throw new ConfigError(problems, file);
  config.source = file;
  return config;
}

/** Largest config file read (GTM_CONFIG_MAX_BYTES overrides): a runaway file is refused, not parsed for minutes. */
export function configMaxBytes(): number {
  const n = Number(process.env.GTM_CONFIG_MAX_BYTES);
  return Number.isInteger(n) && n > 0 ? n : 32 << 20;
}

/**
 * Zone files (`zones.<name>.file`) and their $INCLUDEs: a relative path is read from the directory
 * of the file that names it (the config's, or the including zone file's); each file within the
 * config's size limit. Named in problems by the path as resolved.
 */
function zoneFileReader(config?: string): ZoneFileReader {
  return (path, from) => {
    const base = from ? dirname(from) : config ? dirname(config) : process.cwd();
    const name = resolve(base, path);
    const size = statSync(name).size;
    if (size > configMaxBytes())
      throw new Error(`${name} is ${size} bytes; the limit is ${configMaxBytes()} (GTM_CONFIG_MAX_BYTES)`);
    return { text: readFileSync(name, 'utf8'), name };
  };
}

/** The file's text, refused with a clear error when it cannot be read or is over the limit. */
export function readConfigText(file: string): string {
  try {
    const size = statSync(file).size;
    if (size > configMaxBytes())
      throw new ConfigError(
        [`the file is ${size} bytes; the limit is ${configMaxBytes()} (GTM_CONFIG_MAX_BYTES)`],
        file,
      );
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError([`cannot read file: ${(err as Error).message}`], file);
  }
}

export function loadConfigFile(file: string): Config {
  return parseConfigText(readConfigText(file), file);
}

/**
 * The one setting the long-running agent and control plane take from their file again at run
 * time (SIGHUP): `control.flap_damping`. Turning damping on while something flaps must not need
 * a restart, which would withdraw an agent's routes (DNS servers reload their whole config).
 * Hands the file's rule (undefined: off) to `apply`; a file that does not load is refused with
 * its problems, and the damping in force stays.
 */
export function rereadFlapDamping(file: string, log: EventSink, apply: (rule: FlapDamping | undefined) => void): void {
  let rule: FlapDamping | undefined;
  try {
    rule = loadConfigFile(file).control?.flapDamping;
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
    emit(log, 'config.refused', { why: 'SIGHUP', problems }, 'configuration refused; flap damping unchanged', 'error');
    return;
  }
  apply(rule);
  emit(
    log,
    'config.reloaded',
    { why: `SIGHUP: control.flap_damping ${rule ? 'on' : 'off'} (other settings need a restart)` },
    'flap damping applied from the configuration',
  );
}

/** One line per zone, region and service, for `gtm check-config`. */
export function summarise(config: Config): string[] {
  const lines: string[] = [];
  for (const z of config.zones) {
    const from = z.secondary?.primaries.map((p) => `${p.host}:${p.port}`).join(', ');
    const key = z.secondary?.tsig ? ` (TSIG ${z.secondary.tsig})` : '';
    lines.push(
      from
        ? `zone ${z.name}: secondary of ${from}${key}, kept in ${config.dns.secondaryDir}`
        : `zone ${z.name}: ${z.ns.length} NS, ${z.records.length} static records, SOA serial ${z.soa.serial}`,
    );
  }
  for (const r of config.regions.values()) {
    lines.push(
      `region ${r.name}: ${[r.vip4, r.vip6].filter(Boolean).join(' ')} at ${r.lat},${r.lon} (${r.status}, weight ${r.weight})`,
    );
  }
  for (const s of config.services) {
    lines.push(
      `service ${s.key}: ${s.name} policy ${describePolicy(s.policy)} over ${s.pools.map((p) => p.region).join(', ')}, ttl ${s.ttl}, answers ${s.answers || 'all'}`,
    );
  }
  return lines;
}
