// `gtm control`: the operators' HTTP API over the shared state. Reads are open; writes
// need a bearer token, pass the guard rail (unless forced) and are audited.
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifySchema } from 'fastify';
import type { Config } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import {
  InMemoryRegionState,
  KEYS,
  REGION_STATUSES,
  RegionFeed,
  type AgentReport,
  type RegionOverride,
  type RegionView,
  type StateStore,
} from '../state/index.js';
import { regionView, doc, errorBody, nameParam, overrideBody, drainBody } from './api-schemas.js';
import { AuditLog } from './audit.js';
import { Changes, type ChangeRequest, type ChangeResult } from './changes.js';
import { startSchedules } from './schedules.js';
import { STATUS_PAGE } from './status-page.js';

export interface ControlServer {
  app: FastifyInstance;
  port: number;
  state: InMemoryRegionState;
  close(): Promise<void>;
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
  feed.start();
  // Guard-rail checks need the full stored state, not a half-read one.
  if (!(await feed.waitReady(3000))) {
    log.warn({ store: control.store }, 'shared state not readable yet; the control API starts anyway');
  }
  const audit = new AuditLog(control.api.auditLog);
  // removeAdditional off: an unknown field is a 400, not silently dropped.
  const app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false } } });
  const routes: { method: string; url: string; schema?: Record<string, unknown> }[] = [];
  app.addHook('onRoute', (r) => {
    if (!r.url.startsWith('/api/')) return;
    for (const m of [r.method].flat())
      if (m !== 'HEAD')
        routes.push({ method: m.toLowerCase(), url: r.url, schema: r.schema as Record<string, unknown> | undefined });
  });

  const who = (req: FastifyRequest): string | undefined => {
    const h = req.headers.authorization ?? '';
    const presented = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '');
    for (const t of control.api.tokens) {
      const want = Buffer.from(t.token);
      if (want.length === presented.length && timingSafeEqual(want, presented)) return t.name;
    }
    return undefined;
  };

  // Every write under /api/ needs a token; checked once here (after body validation, as
  // fastify runs preHandler hooks), and the token's name is what the audit log records.
  const operators = new WeakMap<FastifyRequest, string>();
  app.addHook('preHandler', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD' || !req.url.startsWith('/api/')) return;
    const user = who(req);
    if (!user) return reply.code(401).send({ error: 'a valid bearer token is needed for changes' });
    operators.set(req, user);
  });
  const operator = (req: FastifyRequest) => operators.get(req) as string;

  const views = async () => {
    const overrides = new Map(
      (await store.list<RegionOverride>(KEYS.regionOverrides)).map((e) => [
        e.key.slice(KEYS.regionOverrides.length),
        e.value,
      ]),
    );
    return [...config.regions.keys()].map((name) => {
      const v = state.get(name) as RegionView;
      const o = overrides.get(name);
      return {
        name,
        status: v.status,
        weight: v.weight ?? null,
        reason: v.reason ?? '',
        since: new Date(v.since).toISOString(),
        override: o && (o.expiresAt === undefined || o.expiresAt > now()) ? o : null,
      };
    });
  };

  app.get(
    '/api/v1/regions',
    { schema: doc('Every region as DNS sees it', { response: { 200: { type: 'array', items: regionView } } }) },
    async () => views(),
  );

  app.get('/api/v1/state', { schema: doc('Regions, agents (PoPs and VIPs) and overrides') }, async () => ({
    regions: await views(),
    agents: (await store.list<AgentReport>(KEYS.agents)).map((e) => ({
      ...e.value,
      leaseExpiresAt: e.expiresAt ? new Date(e.expiresAt).toISOString() : null,
    })),
    pops: config.pops.map((p) => ({ name: p.name, region: p.region, vips: p.vips.map((v) => v.prefix) })),
  }));

  app.get(
    '/api/v1/audit',
    {
      schema: doc('Recent changes, newest first', {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        },
      }),
    },
    async (req) => audit.tail((req.query as { limit: number }).limit),
  );

  const changes = new Changes(config, store, audit, state, log, now);
  const schedules = startSchedules(control.schedules, changes, log);
  const send = (reply: FastifyReply, r: ChangeResult) =>
    r.ok ? reply.send({ override: r.override }) : reply.code(r.code).send({ error: r.error });
  const change = async (
    req: FastifyRequest,
    reply: FastifyReply,
    region: string,
    body: { status?: ChangeRequest['status']; weight?: number; reason: string; expires_in_s?: number; force?: boolean },
    action: string,
  ) =>
    send(
      reply,
      await changes.set(
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
    async (req, reply) => change(req, reply, (req.params as { name: string }).name, req.body as never, 'override'),
  );

  app.post(
    '/api/v1/regions/:name/drain',
    { schema: doc('Stop handing the region out (draining)', { params: nameParam, body: drainBody }) },
    async (req, reply) =>
      change(
        req,
        reply,
        (req.params as { name: string }).name,
        { ...(req.body as { reason: string }), status: 'draining' },
        'drain',
      ),
  );

  app.delete(
    '/api/v1/regions/:name/override',
    {
      schema: doc('Remove the override (undrain): health decides again', {
        params: nameParam,
        querystring: { type: 'object', required: ['reason'], properties: { reason: { type: 'string', minLength: 1 } } },
      }),
    },
    async (req, reply) =>
      send(
        reply,
        await changes.clear(
          (req.params as { name: string }).name,
          (req.query as { reason: string }).reason,
          operator(req),
        ),
      ),
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
        querystring: { type: 'object', required: ['reason'], properties: { reason: { type: 'string', minLength: 1 } } },
      }),
    },
    async (req, reply) => {
      const p = req.params as { service: string; name: string };
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
      await app.close();
    },
  };
}
