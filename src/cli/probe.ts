// `gtm probe`: a stand-alone vantage point, for places without a PoP (a cloud VM, an office).
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/index.js';
import { createLogger } from '../observability/index.js';
import { startVantagePoint } from '../vantage/index.js';

export async function probeCommand(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, name: { type: 'string' } } });
  if (!values.config || !values.name) {
    process.stderr.write('usage: gtm probe --config FILE --name NAME\n');
    return 2;
  }
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(values.name)) throw new Error('--name: 1-64 letters, digits, _ . or -');
  const config = loadConfigFile(values.config);
  if (!config.control?.vantage)
    throw new Error(`${values.config}: no control.vantage section (what to probe, and the quorum)`);
  const log = createLogger(`gtm-probe-${values.name}`);
  const stop = await startVantagePoint(config, values.name, undefined, log);
  const quit = () => void stop?.().then(() => process.exit(0));
  process.once('SIGTERM', quit);
  process.once('SIGINT', quit);
  return undefined;
}
