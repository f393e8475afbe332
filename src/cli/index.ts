// Public entry of the cli capability: `gtm <command>`. Each command's code is loaded when it
// runs, so `gtm dns` never loads the control plane's web framework, the agent's gRPC or the lab.
import { ConfigError } from '../config/index.js';

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
  ready dns|control|agent --config FILE [--pop NAME] [--timeout S]
                                         exit 0 once that role answers (the systemd units' readiness check)
  store rbac --config FILE [--probe NAME]... [--apply --secrets DIR]
                                         etcd's roles: each agent and probe writes only its own keys
  dnssec keygen|ds|status|rollover|activate --config FILE --zone ZONE ...
                                         keys of a signed zone, its DS, rollovers (gtm dnssec for more)
  zone export --config FILE ZONE [--out FILE]
                                         the zone as a master file (steered names: every pool address)
  geo status [--config FILE]             the geo data in use: source, build date, age, licence
  token new [NAME] | token hash           make an API token (prints it and its config line) |
                                         print the SHA-256 of a token read from standard input
  lab up [--config FILE] [--router bird|frr] [--engine netns|compose] [--store file|etcd] | lab status [--json] | lab down
                                         the failover lab in network namespaces, or in containers
                                         (docker-compose.yml; starts its own Docker engine if none runs) (root)
  lab drill NAME... | all [--json]       run drills against the running lab; exit 1 if one fails
  lab render --dir DIR [--etcd URL]      write the lab's config, geo DB and BIRD configs (containers)
  lab render --containers                rewrite docker-compose.yml and the containerlab topology
                                         from lab/address-plan.ts
`;

type Command = (args: string[]) => number | undefined | Promise<number | undefined>;
/** Each command and where its code lives (imported on demand). */
const COMMANDS: Record<string, () => Promise<Command>> = {
  'check-config': async () => (await import('./tools.js')).checkConfig,
  geo: async () => (await import('./tools.js')).geoCommand,
  token: async () => (await import('./tools.js')).tokenCommand,
  dns: async () => (await import('./servers.js')).dnsCommand,
  agent: async () => (await import('./servers.js')).agentCommand,
  control: async () => (await import('./servers.js')).controlCommand,
  explain: async () => (await import('./explain.js')).explainCommand,
  probe: async () => (await import('./probe.js')).probeCommand,
  store: async () => (await import('./store.js')).storeCommand,
  ready: async () => (await import('./ready.js')).readyCommand,
  dnssec: async () => (await import('./dnssec.js')).dnssecCommand,
  zone: async () => (await import('./zone.js')).zoneCommand,
  lab: async () => (await import('./lab.js')).labCommand,
};

export async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  if (command === undefined || ['help', '--help', '-h'].includes(command)) {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const load = COMMANDS[command];
  if (!load) {
    process.stderr.write(`gtm: unknown command ${JSON.stringify(command)}\n${USAGE}`);
    return 2;
  }
  try {
    return await (
      await load()
    )(rest);
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
