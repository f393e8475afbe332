// `gtm probe`: a stand-alone vantage point, for places without a PoP (a cloud VM, an office).
import { parseArgs } from 'node:util';
import { loadConfigFile, parseHostPort } from '../config/index.js';
import { createLogger, processMetrics, Registry, serveRegistry } from '../observability/index.js';
import { startVantagePoint } from '../vantage/index.js';

export async function probeCommand(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, name: { type: 'string' }, metrics: { type: 'string' } },
  });
  if (!values.config || !values.name) {
    process.stderr.write('usage: gtm probe --config FILE --name NAME [--metrics HOST:PORT]\n');
    return 2;
  }
  const metricsAt = values.metrics ? parseHostPort(values.metrics) : undefined;
  if (values.metrics && !metricsAt) throw new Error(`--metrics ${values.metrics}: expected HOST:PORT`);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(values.name)) throw new Error('--name: 1-64 letters, digits, _ . or -');
  const config = loadConfigFile(values.config);
  if (!config.control?.vantage)
    throw new Error(`${values.config}: no control.vantage section (what to probe, and the quorum)`);
  const log = createLogger(`gtm-probe-${values.name}`);
  const registry = new Registry();
  processMetrics(registry);
  const stop = await startVantagePoint(config, values.name, undefined, log, registry);
  const server = metricsAt ? await serveRegistry(metricsAt.host, metricsAt.port, registry) : undefined;
  if (server) {
    const a = server.address() as { address: string; port: number };
    log.info({ metrics: `http://${a.address}:${a.port}/metrics` }, 'metrics endpoint listening');
  }
  const quit = () => void stop?.().then(() => (server?.close(), process.exit(0)));
  process.once('SIGTERM', quit);
  process.once('SIGINT', quit);
  return undefined;
}
