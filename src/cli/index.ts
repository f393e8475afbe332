// Public entry of the cli capability: `gtm <command>`.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MIN_TOKEN_LENGTH, hashToken, newToken } from '../auth/index.js';
import { ConfigError, loadConfigFile, parseHostPort, summarise } from '../config/index.js';
import { startControl } from '../control/index.js';
import { openStore } from '../state/index.js';
import { createLogger } from '../observability/index.js';
import { runAgent } from '../agent/index.js';
import { prepareForWorkers, runDns } from '../dns/index.js';
import { loadZoneKeys, tagOf } from '../dnssec/index.js';
import { explainCommand } from './explain.js';
import { probeCommand } from './probe.js';
import { dnssecCommand } from './dnssec.js';
import { GeoResolver } from '../geo/index.js';

const USAGE = `usage: gtm <command> [options]

commands:
  check-config FILE                      validate a config file and print a summary (exit 1 on error)
  dns --config FILE [--listen HOST:PORT] [--workers N]
                                         run the authoritative GeoDNS server (UDP and TCP)
  explain --config FILE --client IP [--ecs SUBNET] NAME [TYPE]
                                         show why that client gets that answer (from the config)
  explain --live [--config FILE | --api URL] --client IP [--ecs SUBNET] NAME [TYPE]
                                         the same from the live state (agents, vantage, overrides)
  agent --config FILE [--pop NAME] [--state-dir DIR] [--api-port N]
                                         run a PoP agent: health checks -> BGP via gobgpd
  control --config FILE [--port N]       run the control plane API over the shared state
  probe --config FILE --name NAME        run a stand-alone vantage point (control.vantage)
  dnssec keygen|ds|status|rollover|activate --config FILE --zone ZONE ...
                                         keys of a signed zone, its DS, rollovers (gtm dnssec for more)
  geo status [--config FILE]             the geo data in use: source, build date, age, licence
  token new [NAME] | token hash           make an API token (prints it and its config line) |
                                         print the SHA-256 of a token read from standard input
  lab up [--config FILE] [--router bird|frr] [--engine netns|compose] | lab status [--json] | lab down
                                         the failover lab in network namespaces, or in containers
                                         (docker-compose.yml; starts its own Docker engine if none runs) (root)
  lab drill NAME... | all [--json]       run drills against the running lab; exit 1 if one fails
  lab render --dir DIR [--etcd URL]      write the lab's config, geo DB and BIRD configs (containers)
  lab render --containers                rewrite docker-compose.yml and the containerlab topology
                                         from lab/address-plan.ts
`;

export async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'check-config':
        return checkConfig(rest);
      case 'explain':
        return await explainCommand(rest);
      case 'dns':
        return await dnsCommand(rest);
      case 'agent':
        return await agentCommand(rest);
      case 'control':
        return await controlCommand(rest);
      case 'probe':
        return await probeCommand(rest);
      case 'dnssec':
        return dnssecCommand(rest);
      case 'lab':
        return await labCommand(rest);
      case 'token':
        return tokenCommand(rest);
      case 'geo':
        return geoCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`gtm: unknown command ${JSON.stringify(command)}\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`gtm ${command}: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

function checkConfig(args: string[]): number {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const file = positionals[0];
  if (!file || positionals.length > 1) {
    process.stderr.write('usage: gtm check-config FILE\n');
    return 2;
  }
  const config = loadConfigFile(file);
  GeoResolver.open(config.geo.database);
  // Signed zones: their key files are read and must be able to sign now, as gtm dns requires.
  const keys = loadZoneKeys(config);
  prepareForWorkers(config, keys);
  process.stdout.write(
    `${file}: OK\n${summarise(config)
      .map((l) => `  ${l}\n`)
      .join('')}${[...keys]
      .map(
        ([zone, ks]) => `  ${zone}: signed, keys ${ks.map((k) => `${k.role.toUpperCase()} ${tagOf(k)}`).join(', ')}\n`,
      )
      .join('')}`,
  );
  return 0;
}

/** `gtm geo status`: which data answers "where is this client", and how old it is. */
function geoCommand(args: string[]): number {
  const { values, positionals } = parseArgs({ args, options: { config: { type: 'string' } }, allowPositionals: true });
  if (positionals[0] !== 'status' || positionals.length !== 1) {
    process.stderr.write('usage: gtm geo status [--config FILE]\n');
    return 2;
  }
  const database = values.config ? loadConfigFile(values.config).geo.database : undefined;
  const geo = GeoResolver.open(database);
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
  process.stdout.write(
    'update: npm update (the packaged data), then SIGHUP to gtm dns; or geo.reload_cron for a file updated in place\n',
  );
  return 0;
}

async function dnsCommand(args: string[]): Promise<number | undefined> {
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
  const handle = await runDns({ configPath: values.config, listen, workers });
  const stop = () => void handle.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return undefined;
}

/** `gtm token new [NAME]` and `gtm token hash`: the config keeps only a token's SHA-256. */
function tokenCommand(args: string[]): number {
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

/** A TCP port given on the command line (0 = any free port). */
function portOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`${flag} must be 0-65535`);
  return port;
}

async function agentCommand(args: string[]): Promise<number | undefined> {
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
  await runAgent(config, values.pop, {
    stateDir: values['state-dir'],
    apiPort: portOption(values['api-port'], '--api-port'),
  });
  return undefined;
}

async function controlCommand(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' }, port: { type: 'string' } } });
  if (!values.config) {
    process.stderr.write('usage: gtm control --config FILE [--port N]\n');
    return 2;
  }
  const config = loadConfigFile(values.config);
  if (!config.control) throw new Error(`${values.config}: no control section (control.store is needed)`);
  const port = portOption(values.port, '--port');
  const log = createLogger('gtm-control');
  const store = await openStore(config.control.store);
  const server = await startControl(config, store, log, { port });
  const stop = () =>
    void server
      .close()
      .then(() => store.close())
      .then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return undefined;
}

async function labCommand(args: string[]): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      json: { type: 'boolean' },
      dir: { type: 'string' },
      etcd: { type: 'string' },
      router: { type: 'string' },
      engine: { type: 'string' },
      containers: { type: 'boolean' },
    },
  });
  const lab = await import('../../lab/lab.js');
  switch (positionals[0]) {
    case 'up': {
      const router = values.router ?? 'bird';
      if (router !== 'bird' && router !== 'frr') throw new Error('--router must be bird or frr');
      const engine = values.engine ?? 'netns';
      if (engine !== 'netns' && engine !== 'compose') throw new Error('--engine must be netns or compose');
      const l = await lab.up(values.config, console.log, { router, engine });
      const reach =
        engine === 'compose'
          ? `docker compose exec dns, or ip netns exec ${lab.PREFIX}dns`
          : `ip netns exec ${lab.PREFIX}dns`;
      process.stdout.write(
        `lab is up\n\n${lab.formatStatus(await lab.status(l))}\n\ncontrol API: 127.0.0.1:9190 inside the lab's DNS node (${reach}), token in ${l.dir}/token (root only)\n` +
          `next: npx gtm lab status | npx gtm lab drill cluster-down | npx gtm lab drill all | npx gtm lab down\n`,
      );
      return 0;
    }
    case 'status': {
      const s = await lab.status(lab.loadLab());
      process.stdout.write(values.json ? `${JSON.stringify(s, null, 2)}\n` : `${lab.formatStatus(s)}\n`);
      return 0;
    }
    case 'down':
      await lab.down();
      return 0;
    case 'render': {
      if (values.containers) {
        const written = (await import('../../lab/containers.js')).writeContainerFiles();
        process.stdout.write(`rendered ${written.join(', ')}\n`);
        return 0;
      }
      // The container labs (docker-compose.yml, lab/containerlab) run these files.
      if (!values.dir) {
        process.stderr.write(
          'usage: gtm lab render --dir DIR [--config FILE] [--etcd URL] | gtm lab render --containers\n',
        );
        return 2;
      }
      lab.renderLab(values.dir, values.config, { etcd: values.etcd });
      process.stdout.write(`lab files written to ${values.dir}\n`);
      return 0;
    }
    case 'drill': {
      const drills = await import('../../lab/drills.js');
      const names = positionals.slice(1).flatMap((n) => (n === 'all' ? drills.DRILL_NAMES : [n]));
      if (!names.length) {
        process.stderr.write(
          `usage: gtm lab drill NAME... | all [--json]   (drills: ${drills.DRILL_NAMES.join(', ')})\n`,
        );
        return 2;
      }
      const l = lab.loadLab();
      let failed = 0;
      for (const name of names) {
        const r = await drills.runDrill(l, name);
        if (!r.passed) failed++;
        process.stdout.write(values.json ? `${JSON.stringify(r)}\n` : `${drills.formatDrill(r)}\n\n`);
      }
      return failed ? 1 : 0;
    }
    default:
      process.stderr.write(
        'usage: gtm lab up [--config FILE] [--router bird|frr] [--engine netns|compose] | gtm lab status [--json] | gtm lab down | gtm lab drill NAME... [--json] | gtm lab render\n',
      );
      return 2;
  }
}
