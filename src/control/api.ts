// `gtm control`: the operators' HTTP API over the shared state. Reads are open (or need a token
// with read_requires_token); writes need a bearer token with the right scope, pass the guard rail
// (unless forced) and are audited. The routes live in src/control/routes by resource; who may
// call them is decided in http.ts.
import type { FastifyInstance } from 'fastify';
import { usableTokens } from '../auth/index.js';
import { startAlerts } from '../alerts/index.js';
import type { Config, FlapDamping } from '../config/index.js';
import { Registry, processMetrics, type Logger } from '../observability/index.js';
import {
  InMemoryRegionState,
  RegionFeed,
  regionStateMetrics,
  observeStore,
  feedMetrics,
  type StateStore,
} from '../state/index.js';
import { AuditLog } from './audit.js';
import { Changes } from './changes.js';
import type { ControlContext } from './context.js';
import { createApp } from './http.js';
import { startSchedules } from './schedules.js';
import { docRoutes } from './routes/docs.js';
import { drillRoutes } from './routes/drills.js';
import { signalRoutes } from './routes/signals.js';
import { explainRoutes } from './routes/explain.js';
import { regionRoutes } from './routes/regions.js';
import { serviceRoutes } from './routes/services.js';
import { stateRoutes } from './routes/state.js';
import { trafficRoutes } from './routes/traffic.js';

export interface ControlServer {
  app: FastifyInstance;
  port: number;
  state: InMemoryRegionState;
  /** Flap damping from now on (undefined: off), as SIGHUP reads it from the file. */
  setFlapDamping(rule: FlapDamping | undefined): void;
  close(): Promise<void>;
}

/** How long a closing control API lets requests in flight finish before it cuts every connection. */
const CLOSE_GRACE_MS = 2000;

export async function startControl(
  config: Config,
  store: StateStore,
  log: Logger,
  opts: { port?: number; now?: () => number } = {},
): Promise<ControlServer> {
  const control = config.control;
  if (!control) throw new Error('the config has no control section');
  const now = opts.now ?? Date.now;
  const state = InMemoryRegionState.fromConfig(config);
  const feed = new RegionFeed(config, store, state, log);
  // /metrics: this process's view of every region, alert deliveries, and the process itself.
  const registry = new Registry();
  processMetrics(registry);
  regionStateMetrics(
    registry,
    () => config.regions.keys(),
    (r) => state.get(r),
    () => control.flapDamping,
  );
  observeStore(store, log, registry);
  feedMetrics(feed, registry);
  // Alerts: the events this process's feed emits (region state, guard rail) go to the webhooks.
  const alerts = control.alerts.length
    ? startAlerts(control.alerts, 'gtm control', { deadLetter: control.alertDeadLetter, log, registry }, now)
    : undefined;
  feed.start();
  // Guard-rail checks need the full stored state, not a half-read one.
  if (!(await feed.waitReady(3000)))
    log.warn({ store: control.store }, 'shared state not readable yet; the control API starts anyway');

  const { usable, missing } = usableTokens(control.api.tokens);
  if (missing.length) log.warn({ missing }, 'some configured API tokens cannot be checked by this process');
  const { app, guard, routes } = createApp(log, usable, control.api.readRequiresToken);
  const audit = new AuditLog(control.api.auditLog);
  const changes = new Changes(config, store, audit, state, log, now);
  const ctx: ControlContext = { config, control, store, state, feed, audit, changes, guard, log, now };
  regionRoutes(app, ctx);
  serviceRoutes(app, ctx);
  stateRoutes(app, ctx);
  explainRoutes(app, ctx);
  trafficRoutes(app, ctx);
  drillRoutes(app, ctx);
  signalRoutes(app, ctx);
  docRoutes(app, routes);
  app.get('/metrics', { config: { access: 'read' } }, async (_req, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
  const schedules = startSchedules(control.schedules, changes, log);

  await app.listen({ host: control.api.listen.host, port: opts.port ?? control.api.listen.port });
  const port = (app.server.address() as { port: number }).port;
  log.info(
    { listen: `${control.api.listen.host}:${port}`, tokens: control.api.tokens.map((t) => t.name) },
    'control API listening',
  );
  return {
    app,
    port,
    state,
    setFlapDamping(rule) {
      // In place: the feed's merges, explain and the metrics all read it from this config.
      control.flapDamping = rule;
      feed.setConfig(config);
    },
    close: async () => {
      schedules.stop();
      changes.close();
      feed.stop();
      await alerts?.stop();
      // Node does not count a connection that has not sent a request yet as idle: it would hold
      // the close for up to headersTimeout (60 s). In-flight requests get CLOSE_GRACE_MS.
      const force = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
      await app.close();
      clearTimeout(force);
    },
  };
}
