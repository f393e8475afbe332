// Public entry of the agent capability.
import { join } from 'node:path';
import { rereadFlapDamping, type Config } from '../config/index.js';
import { packageRoot } from '../runtime/index.js';
import { createLogger, serveRegistry } from '../observability/index.js';
import { startVantagePoint } from '../vantage/index.js';
import { Agent, defaultStateDir } from './agent.js';

export { Agent, type AgentInput, type AgentOptions } from './agent.js';
export type { AgentStatus } from './status.js';
export type { Speaker, SpeakerEvents, PathClient } from './speaker.js';
export { step, newVipMachine, announceOf, type VipMachine, type VipState, type Announce } from './vip-state.js';

/** Runs the agent for one PoP until SIGTERM/SIGINT, which drain and withdraw first. */
export async function runAgent(
  config: Config,
  popName: string | undefined,
  opts: { stateDir?: string; apiPort?: number; configPath?: string } = {},
): Promise<Agent> {
  const pop = popName
    ? config.pops.find((p) => p.name === popName)
    : config.pops.length === 1
      ? config.pops[0]
      : undefined;
  if (!pop) {
    const names = config.pops.map((p) => p.name).join(', ') || 'none configured';
    throw new Error(popName ? `no PoP named ${popName} (have: ${names})` : `choose a PoP with --pop (have: ${names})`);
  }
  const log = createLogger(`gtm-agent-${pop.name}`);
  const agent = new Agent(config, pop, {
    stateDir: opts.stateDir ?? defaultStateDir(pop.name),
    wrapper: join(packageRoot(), 'gobgp', 'run-gobgpd.sh'),
    log,
    apiPort: opts.apiPort,
  });
  await agent.start();
  // Every agent is also a vantage point on the other regions, when vantage probing is configured.
  const stopVantage = await startVantagePoint(config, pop.name, pop.region, log, agent.metrics.registry);
  const registry = agent.metrics.registry;
  // Every series names its PoP, so one dashboard shows a fleet whatever the scrape config says.
  registry.setDefaultLabels({ pop: pop.name });
  const metricsServer = pop.metrics ? await serveRegistry(pop.metrics.host, pop.metrics.port, registry) : undefined;
  if (pop.metrics) log.info({ metrics: `http://${pop.metrics.host}:${pop.metrics.port}/metrics` }, 'metrics listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'signal received');
    metricsServer?.close();
    void Promise.all([stopVantage?.(), agent.shutdown()]).then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // SIGHUP: control.flap_damping from the file again (a restart would withdraw the routes).
  const path = opts.configPath;
  if (path) process.on('SIGHUP', () => rereadFlapDamping(path, log, (rule) => agent.setFlapDamping(rule)));
  return agent;
}
