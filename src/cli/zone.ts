// `gtm zone export --config FILE ZONE [--out FILE]`: the zone as a master file (src/dns/zone-export.ts).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/index.js';
import { exportZone, SerialKeeper } from '../dns/index.js';

const USAGE = 'usage: gtm zone export --config FILE ZONE [--out FILE]\n';

export function zoneCommand(args: string[]): number {
  const [verb, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { config: { type: 'string' }, out: { type: 'string' } },
  });
  const name = positionals[0]?.replace(/\.$/, '').toLowerCase();
  if (verb !== 'export' || !values.config || !name) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = loadConfigFile(values.config);
  const zone = config.zones.find((z) => z.name === name);
  if (!zone)
    throw new Error(`zone ${name}: not in ${values.config} (have: ${config.zones.map((z) => z.name).join(', ')})`);
  // An automatic serial as the DNS primary has it (or would give it) for this content.
  new SerialKeeper(config.dns.serialFile).assign(config, { persist: false });
  const text = exportZone(config, zone);
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
  return 0;
}
