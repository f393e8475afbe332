// `gtm dns`, `gtm agent`, `gtm control`: the long-running processes. Each loads only its own
// capability (the CLI imports this file's commands on demand, one per process).
import { parseArgs } from 'node:util';
import { loadConfigFile, parseHostPort, rereadFlapDamping } from '../config/index.js';

export async function dnsCommand(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, listen: { type: 'string' }, workers: { type: 'string' } },
  });
  if (!values.config) {
    process.stderr.write('usage: gtm dns --config FILE [--listen HOST:PORT] [--workers N]\n');
    return 2;
  }
  const listen = values.listen ? parseHostPort(values.listen) : undefined;
  if (values.listen && !listen) throw new Error(`--listen ${values.listen}: expected HOST:PORT`);
  const workers = values.workers ? Number(values.workers) : undefined;
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1 || workers > 64))
    throw new Error('--workers must be 1-64');
  const { runDns } = await import('../dns/index.js');
  const handle = await runDns({ configPath: values.config, listen, workers });
  const stop = () => void handle.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return undefined;
}

/** A TCP port given on the command line (0 = any free port). */
function portOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`${flag} must be 0-65535`);
  return port;
}

export async function agentCommand(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      pop: { type: 'string' },
      'state-dir': { type: 'string' },
      'api-port': { type: 'string' },
    },
  });
  if (!values.config) {
    process.stderr.write('usage: gtm agent --config FILE [--pop NAME] [--state-dir DIR] [--api-port N]\n');
    return 2;
  }
  const config = loadConfigFile(values.config);
  const { runAgent } = await import('../agent/index.js');
  await runAgent(config, values.pop, {
    stateDir: values['state-dir'],
    apiPort: portOption(values['api-port'], '--api-port'),
    configPath: values.config,
  });
  return undefined;
}

export async function controlCommand(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, port: { type: 'string' } } });
  if (!values.config) {
    process.stderr.write('usage: gtm control --config FILE [--port N]\n');
    return 2;
  }
  const config = loadConfigFile(values.config);
  if (!config.control) throw new Error(`${values.config}: no control section (control.store is needed)`);
  const port = portOption(values.port, '--port');
  const [{ startControl }, { openStore }, { createLogger }] = await Promise.all([
    import('../control/index.js'),
    import('../state/index.js'),
    import('../observability/index.js'),
  ]);
  const log = createLogger('gtm-control');
  const store = await openStore(config.control.store, log);
  const server = await startControl(config, store, log, { port });
  // SIGHUP: control.flap_damping from the file again (alerts follow what DNS servers damp).
  const path = values.config;
  process.on('SIGHUP', () => rereadFlapDamping(path, log, (rule) => server.setFlapDamping(rule)));
  const stop = () =>
    void server
      .close()
      .then(() => store.close())
      .then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return undefined;
}
