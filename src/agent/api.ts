// The agent's HTTP API: /healthz, /status, /metrics, POST /maintenance.
import Fastify, { type FastifyInstance } from 'fastify';
import { allows, authenticate, usableTokens, type ApiToken, type Principal } from '../auth/index.js';
import { REASON_PATTERN } from '../validate/index.js';
import type { AgentStatus } from './status.js';

export interface AgentApiHandlers {
  health(): { ok: boolean; serving: boolean; bgpApiUp: boolean; sessionUp: boolean };
  status(): AgentStatus;
  metrics(): Promise<{ contentType: string; body: string }>;
  setMaintenance(enabled: boolean, reason: string | undefined, who: string): { maintenance: boolean };
}

export interface AgentApiAuth {
  /** The operators' tokens (control.api.tokens); writes need `drain` for this PoP's region. */
  tokens: ApiToken[];
  readRequiresToken: boolean;
  region: string;
}

export async function startAgentApi(
  host: string,
  port: number,
  h: AgentApiHandlers,
  auth: AgentApiAuth,
): Promise<FastifyInstance> {
  // As in the control API: an unknown field is a 400 (fastify would silently drop it), and
  // "true" is not true.
  const app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
  const { usable } = usableTokens(auth.tokens);
  // Checked on arrival, before the body is read. /healthz stays open for health checkers; with
  // no usable token configured every write is refused (the maintenance file still works).
  const principals = new WeakMap<object, Principal>();
  app.addHook('onRequest', async (req, reply) => {
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if (req.url === '/healthz' || (!write && !auth.readRequiresToken)) return;
    const p = authenticate(req.headers.authorization, usable);
    if (!p)
      return reply.code(401).send({
        error: usable.length
          ? 'a valid bearer token is needed'
          : 'no API token is configured (control.api.tokens): use the maintenance file',
      });
    const scope = write ? 'drain' : 'read';
    if (!allows(p, scope, auth.region))
      return reply.code(403).send({ error: `token ${p.name} may not ${scope} in ${auth.region}` });
    principals.set(req, p);
  });
  app.get('/healthz', async (_req, reply) => {
    // Alive, and honest about serving: no session or no gobgpd means not serving.
    const body = h.health();
    return reply.code(body.ok ? 200 : 503).send(body);
  });
  app.get('/status', async () => h.status());
  app.get('/metrics', async (_req, reply) => {
    const m = await h.metrics();
    return reply.type(m.contentType).send(m.body);
  });
  app.post(
    '/maintenance',
    {
      schema: {
        body: {
          type: 'object',
          required: ['enabled'],
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean' },
            reason: {
              type: 'string',
              maxLength: 500,
              pattern: REASON_PATTERN,
            },
          },
        },
      },
    },
    async (req, reply) => {
      const body = req.body as { enabled: boolean; reason?: string };
      // JSON may carry lone surrogates ("\ud800"), which no pattern can refuse (as in the control API).
      if (body.reason !== undefined && !(body.reason as string & { isWellFormed(): boolean }).isWellFormed())
        return reply.code(400).send({ error: 'reason is not well-formed Unicode (a lone surrogate)' });
      return h.setMaintenance(body.enabled, body.reason, (principals.get(req) as Principal).name);
    },
  );
  await app.listen({ host, port });
  return app;
}
