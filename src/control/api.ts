// `gtm control`: the operators' HTTP API over the shared state. Reads are open; writes
// need a bearer token, pass the guard rail (unless forced) and are audited.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { allows, authenticate, usableTokens, type Principal, type Scope } from '../auth/index.js';
import { startAlerts } from '../alerts/index.js';
import type { Config } from '../config/index.js';
import { Registry } from '../observability/index.js';
import type { Logger } from '../observability/index.js';
import {
  anycastViews,
  InMemoryRegionState,
  KEYS,
  isLive,
  RegionFeed,
  type AgentReport,
  type RegionView,
  type StateStore,
  StoreTimeoutError,
  StoreUnavailableError,
  FileStateStore,
  watchStateReads,
} from '../state/index.js';
import {
  regionView,
  doc,
  errorBody,
  explainQuery,
  nameParam,
  overrideBody,
  drainBody,
  reasonQuery,
} from './api-schemas.js';
import { AuditLog, type AuditEntry } from './audit.js';
import { Changes, type ChangeRequest, type ChangeResult } from './changes.js';
import { startSchedules } from './schedules.js';
import { STATUS_PAGE } from './status-page.js';

export interface ControlServer {
  app: FastifyInstance;
  port: number;
  state: InMemoryRegionState;
  close(): Promise<void>;
}

/** How long a write may take before the API answers 503 (and the write is not applied). */
const WRITE_DEADLINE_MS = 3000;

/**
 * Answers at the deadline whatever the store is doing (its client may retry): the change itself
 * carries the same deadline and writes nothing once it has passed.
 */
function withinDeadline<T>(p: Promise<T>, ms = WRITE_DEADLINE_MS + 200): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (t = setTimeout(() => reject(new StoreTimeoutError('the change')), ms)),
  );
  return Promise.race([p, late]).finally(() => clearTimeout(t));
}

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
  if (store instanceof FileStateStore) watchStateReads(store, log, new Registry());
  // Alerts: the events this process's feed emits (region state, guard rail) go to the webhooks.
  const alerts = control.alerts.length
    ? startAlerts(control.alerts, 'gtm control', { deadLetter: control.alertDeadLetter, log }, now)
    : undefined;
  feed.start();
  // Guard-rail checks need the full stored state, not a half-read one.
  if (!(await feed.waitReady(3000))) {
    log.warn({ store: control.store }, 'shared state not readable yet; the control API starts anyway');
  }
  const audit = new AuditLog(control.api.auditLog);
  // removeAdditional off: an unknown field is a 400, not silently dropped. coerceTypes off:
  // {"status": ["down"]} is a 400, not "down" (fastify coerces by default).
  const app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
  const routes: { method: string; url: string; schema?: Record<string, unknown> }[] = [];
  app.addHook('onRoute', (r) => {
    if (!r.url.startsWith('/api/')) return;
    for (const m of [r.method].flat())
      if (m !== 'HEAD')
        routes.push({ method: m.toLowerCase(), url: r.url, schema: r.schema as Record<string, unknown> | undefined });
  });

  // The store did not answer in time (a frozen etcd, a state file held locked): 503, and the
  // change was not applied. Anything else unexpected stays a 500.
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err instanceof StoreTimeoutError)
      return reply.code(503).send({ error: `${err.message}; not applied, retry (with the same Idempotency-Key)` });
    if (err instanceof StoreUnavailableError)
      return reply.code(503).send({ error: `${err.message}; retry with the same Idempotency-Key` });
    if ((err as { statusCode?: number }).statusCode && (err as { statusCode: number }).statusCode < 500)
      return reply.code((err as { statusCode: number }).statusCode).send({ error: err.message });
    log.error({ err }, 'control API error');
    return reply.code(500).send({ error: err.message });
  });
  const idempotencyKey = (req: FastifyRequest): string | undefined => {
    const k = req.headers['idempotency-key'];
    return typeof k === 'string' ? k : undefined;
  };
  app.addHook('preValidation', async (req, reply) => {
    const k = req.headers['idempotency-key'];
    if (k !== undefined && (typeof k !== 'string' || !/^[A-Za-z0-9_-]{8,100}$/.test(k)))
      return reply.code(400).send({ error: 'Idempotency-Key must be 8-100 letters, digits, _ or -' });
  });

  const { usable, missing } = usableTokens(control.api.tokens);
  if (missing.length) log.warn({ missing }, 'some configured API tokens cannot be checked by this process');

  // The token is checked when the request arrives, before its body is read or parsed: an
  // unauthenticated client cannot make us parse a large body. Writes always need one, reads
  // when read_requires_token is set. What the token may do is checked per route (scopes).
  const principals = new WeakMap<FastifyRequest, Principal>();
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/api/')) return;
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (read && !control.api.readRequiresToken) return;
    const p = authenticate(req.headers.authorization, usable);
    if (!p) return reply.code(401).send({ error: `a valid bearer token is needed for ${read ? 'reads' : 'changes'}` });
    if (read && !allows(p, 'read')) return reply.code(403).send({ error: `token ${p.name} may not read` });
    principals.set(req, p);
  });
  // JSON may carry lone surrogates ("\ud800"), which no pattern can refuse: check here.
  app.addHook('preHandler', async (req, reply) => {
    const reason = (req.body as { reason?: unknown } | undefined)?.reason ?? (req.query as { reason?: unknown }).reason;
    if (typeof reason === 'string' && !(reason as string & { isWellFormed(): boolean }).isWellFormed())
      return reply.code(400).send({ error: 'reason is not well-formed Unicode (a lone surrogate)' });
  });
  const operator = (req: FastifyRequest) => (principals.get(req) as Principal).name;
  /** 403 unless the request's token has every scope in `scopes` for `region`. */
  const permitted = (req: FastifyRequest, reply: FastifyReply, scopes: Scope[], region?: string): boolean => {
    const p = principals.get(req) as Principal;
    const denied = scopes.find((s) => !allows(p, s, region));
    if (denied)
      void reply.code(403).send({ error: `token ${p.name} may not ${denied}${region ? ` in ${region}` : ''}` });
    return !denied;
  };

  // Answered from the watched state (the region status comes from there too), not a store read
  // per request: with a thousand agents writing, a read from etcd made the API's p99 ~300 ms.
  const views = async () => {
    return [...config.regions.keys()].map((name) => {
      const v = state.get(name) as RegionView;
      const o = feed.overrideOf(name);
      return {
        name,
        status: v.status,
        weight: v.weight ?? null,
        reason: v.reason ?? '',
        since: new Date(v.since).toISOString(),
        override: isLive(o, now()) ? o : null,
      };
    });
  };

  app.get(
    '/api/v1/regions',
    { schema: doc('Every region as DNS sees it', { response: { 200: { type: 'array', items: regionView } } }) },
    async () => views(),
  );

  // Live explain: the answer code the DNS runs, on this process's view of the shared state, plus
  // what that state is made of for every candidate region. The geo data and the DNS code are
  // loaded on the first request (the control plane needs neither otherwise).
  let explainer: Promise<(q: { name: string; type: string; client: string; ecs?: string }) => string[]> | undefined;
  app.get(
    '/api/v1/explain',
    { schema: doc('Why this client gets this answer, from the live state', { querystring: explainQuery }) },
    async (req, reply) => {
      const q = req.query as { name: string; type: string; client: string; ecs?: string };
      explainer ??= (async () => {
        const [{ explain }, { GeoResolver }] = await Promise.all([
          import('../dns/index.js'),
          import('../geo/index.js'),
        ]);
        const geo = GeoResolver.open(config.geo.database);
        return (r) => explain(config, geo, state, r);
      })();
      let lines: string[];
      try {
        lines = (await explainer)(q);
      } catch (err) {
        return reply.code(400).send({ error: (err as Error).message });
      }
      const agents = await store.list<AgentReport>(KEYS.agents);
      const t = now();
      const regions = (await views()).map((v) => {
        const s = state.get(v.name);
        return {
          ...v,
          source: s?.source ?? 'config',
          held: s?.held ?? false,
          vantage: s?.vantage ?? null,
          agents: agents
            .filter((e) => e.value.region === v.name)
            .map((e) => ({
              pop: e.value.pop,
              serving: e.value.serving,
              sessionUp: e.value.sessionUp,
              vips: e.value.vips,
              reportAgeMs: t - e.value.at,
              leaseLeftMs: e.expiresAt ? e.expiresAt - t : null,
            })),
        };
      });
      return { lines, regions };
    },
  );

  app.get(
    '/api/v1/state',
    { schema: doc('Regions, agents (PoPs and VIPs), shared anycast VIPs and overrides') },
    async () => {
      const agents = await store.list<AgentReport>(KEYS.agents);
      return {
        regions: await views(),
        agents: agents.map((e) => ({
          ...e.value,
          leaseExpiresAt: e.expiresAt ? new Date(e.expiresAt).toISOString() : null,
        })),
        pops: config.pops.map((p) => ({ name: p.name, region: p.region, vips: p.vips.map((v) => v.prefix) })),
        // Per shared anycast VIP: which PoPs announce it, drained (held by the guard rail) or not at all.
        anycast: anycastViews(
          config,
          agents.map((e) => e.value),
        ),
      };
    },
  );

  app.get(
    '/api/v1/audit',
    {
      schema: doc('Recent changes, newest first', {
        querystring: {
          type: 'object',
          // A query string is text; with type coercion off (bodies must not be coerced) it is a pattern.
          properties: { limit: { type: 'string', pattern: '^(?:[1-9][0-9]{0,2}|1000)$', default: '100' } },
        },
      }),
    },
    async (req) => {
      // This process's own log, and what agents recorded in the shared store, newest first.
      const limit = Number((req.query as { limit: string }).limit);
      const agents = (await store.list<AuditEntry>(KEYS.audit)).map((e) => e.value);
      return [...audit.tail(limit), ...agents].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, limit);
    },
  );

  const changes = new Changes(config, store, audit, state, log, now);
  const schedules = startSchedules(control.schedules, changes, log);
  const send = (reply: FastifyReply, r: ChangeResult) =>
    r.ok
      ? reply.header('idempotent-replayed', r.replayed ? 'true' : 'false').send({ override: r.override })
      : reply.code(r.code).send({ error: r.error });
  const change = async (
    req: FastifyRequest,
    reply: FastifyReply,
    region: string,
    body: { status?: ChangeRequest['status']; weight?: number; reason: string; expires_in_s?: number; force?: boolean },
    action: string,
  ) =>
    send(
      reply,
      await withinDeadline(
        changes.set(
          region,
          {
            status: body.status,
            weight: body.weight,
            reason: body.reason,
            expiresInS: body.expires_in_s,
            force: body.force,
          },
          operator(req),
          action,
          // A write must land within 3 s or not at all (the client is told 503 and may retry
          // with the same Idempotency-Key).
          { deadline: Date.now() + WRITE_DEADLINE_MS, idempotencyKey: idempotencyKey(req) },
        ),
      ),
    );

  app.put(
    '/api/v1/regions/:name/override',
    {
      schema: doc('Force a status and/or set a weight, with a reason and an optional expiry', {
        params: nameParam,
        body: overrideBody,
        response: { 401: errorBody, 404: errorBody, 409: errorBody },
      }),
    },
    async (req, reply) => {
      const region = (req.params as { name: string }).name;
      const b = req.body as { status?: string; weight?: number; force?: boolean };
      const scopes: Scope[] = [
        ...(b.status ? ['drain' as const] : []),
        ...(b.weight !== undefined ? ['weight' as const] : []),
        ...(b.force ? ['force' as const] : []),
      ];
      if (!permitted(req, reply, scopes.length ? scopes : ['drain'], region)) return reply;
      return change(req, reply, region, req.body as never, 'override');
    },
  );

  app.post(
    '/api/v1/regions/:name/drain',
    { schema: doc('Stop handing the region out (draining)', { params: nameParam, body: drainBody }) },
    async (req, reply) => {
      const region = (req.params as { name: string }).name;
      const scopes: Scope[] = (req.body as { force?: boolean }).force ? ['drain', 'force'] : ['drain'];
      if (!permitted(req, reply, scopes, region)) return reply;
      return change(req, reply, region, { ...(req.body as { reason: string }), status: 'draining' }, 'drain');
    },
  );

  app.delete(
    '/api/v1/regions/:name/override',
    {
      schema: doc('Remove the override (undrain): health decides again', {
        params: nameParam,
        querystring: reasonQuery,
      }),
    },
    async (req, reply) => {
      const region = (req.params as { name: string }).name;
      if (!permitted(req, reply, ['drain'], region)) return reply;
      return send(reply, await changes.clear(region, (req.query as { reason: string }).reason, operator(req)));
    },
  );

  const svcParams = {
    type: 'object',
    required: ['service', 'name'],
    properties: { service: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }, name: nameParam.properties.name },
  } as const;
  app.put(
    '/api/v1/services/:service/regions/:name/weight',
    {
      schema: doc('Weight of one region for one steered name', {
        params: svcParams,
        body: {
          type: 'object',
          required: ['weight', 'reason'],
          additionalProperties: false,
          properties: {
            weight: overrideBody.properties.weight,
            reason: overrideBody.properties.reason,
            expires_in_s: overrideBody.properties.expires_in_s,
          },
        },
        response: { 401: errorBody, 404: errorBody },
      }),
    },
    async (req, reply) => {
      const p = req.params as { service: string; name: string };
      if (!permitted(req, reply, ['weight'], p.name)) return reply;
      const b = req.body as { weight: number; reason: string; expires_in_s?: number };
      const r = await changes.setServiceWeight(p.service, p.name, b.weight, b.reason, operator(req), b.expires_in_s);
      return r.ok
        ? reply.send({ service: p.service, region: p.name, weight: b.weight })
        : reply.code(r.code).send({ error: r.error });
    },
  );
  app.delete(
    '/api/v1/services/:service/regions/:name/weight',
    {
      schema: doc('Remove the weight for one steered name', {
        params: svcParams,
        querystring: reasonQuery,
      }),
    },
    async (req, reply) => {
      const p = req.params as { service: string; name: string };
      if (!permitted(req, reply, ['weight'], p.name)) return reply;
      const r = await changes.setServiceWeight(
        p.service,
        p.name,
        null,
        (req.query as { reason: string }).reason,
        operator(req),
      );
      return r.ok
        ? reply.send({ service: p.service, region: p.name, weight: null })
        : reply.code(r.code).send({ error: r.error });
    },
  );

  app.get('/', async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header(
        'content-security-policy',
        "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'",
      )
      .send(STATUS_PAGE),
  );

  app.get('/openapi.json', async () => ({
    openapi: '3.0.3',
    info: { title: 'gtm control API', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths: routes.reduce<Record<string, Record<string, unknown>>>((acc, r) => {
      const path = r.url.replace(/:(\w+)/g, '{$1}');
      const s = r.schema ?? {};
      acc[path] = {
        ...acc[path],
        [r.method]: {
          summary: s.summary,
          ...(r.method === 'get' ? {} : { security: [{ bearer: [] }] }),
          parameters: [
            ...Object.keys((s.params as { properties?: object } | undefined)?.properties ?? {}).map((n) => ({
              name: n,
              in: 'path',
              required: true,
              schema: { type: 'string' },
            })),
            ...Object.entries(
              (s.querystring as { properties?: Record<string, object> } | undefined)?.properties ?? {},
            ).map(([n, sch]) => ({ name: n, in: 'query', schema: sch })),
          ],
          ...(s.body ? { requestBody: { required: true, content: { 'application/json': { schema: s.body } } } } : {}),
          responses: {
            200: { description: 'OK' },
            ...Object.fromEntries(
              Object.keys((s.response as object | undefined) ?? {})
                .filter((c) => c !== '200')
                .map((c) => [c, { description: 'error', content: { 'application/json': { schema: errorBody } } }]),
            ),
          },
        },
      };
      return acc;
    }, {}),
  }));

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
    close: async () => {
      schedules.stop();
      feed.stop();
      await alerts?.stop();
      await app.close();
    },
  };
}
