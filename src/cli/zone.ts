// `gtm zone export --config FILE ZONE [--out FILE]`: the zone as a master file (src/dns/zone-export.ts).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/index.js';
import { exportZone, keptCopyFile, layCopy, readKeptCopy, SerialKeeper } from '../dns/index.js';

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
  // A secondary zone: the copy `gtm dns` keeps (as transferred from its primary), steered names on top.
  if (zone.secondary) {
    const file = keptCopyFile(config, name);
    let copy;
    try {
      copy = readKeptCopy(file, name);
    } catch (err) {
      throw new Error(`zone ${name} is a secondary zone; its copy ${file} is not readable (${(err as Error).message})`);
    }
    layCopy(zone, copy.content, config);
  }
  // An automatic serial as the DNS primary has it (or would give it) for this content.
  new SerialKeeper(config.dns.serialFile).assign(config, { persist: false });
  const text = exportZone(config, zone);
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
  return 0;
}
