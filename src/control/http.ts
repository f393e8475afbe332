// The control API's HTTP frame: the fastify app, how errors become status codes, and who may
// call what. Authorisation is decided on the route the request matched, never on the raw URL
// (`/%61pi/...` and absolute-form targets reach the same route, and the same check): every route
// declares its access, and a route that declares none is refused (deny by default).
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { allows, authenticate, type Principal, type Scope, type usableTokens } from '../auth/index.js';
import type { Logger } from '../observability/index.js';
import { StoreTimeoutError, StoreUnavailableError } from '../state/index.js';

/** Who may call a route: anyone (the console page), readers (a token when reads need one), writers. */
export type Access = 'public' | 'read' | 'write';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}

export interface Guard {
  /** The name of the token behind a write (for the audit). */
  operator(req: FastifyRequest): string;
  /** 403 unless the request's token has every scope in `scopes` for `region`; false if refused. */
  permitted(req: FastifyRequest, reply: FastifyReply, scopes: Scope[], region?: string): boolean;
  idempotencyKey(req: FastifyRequest): string | undefined;
  /** Who a request counts against for rate limits: its token when one was checked, else its address. */
  clientOf(req: FastifyRequest): string;
}

export interface ApiRoute {
  method: string;
  url: string;
  schema?: Record<string, unknown>;
  access: Access;
}

export function createApp(
  log: Logger,
  tokens: ReturnType<typeof usableTokens>['usable'],
  readRequiresToken: boolean,
): { app: FastifyInstance; guard: Guard; routes: ApiRoute[] } {
  // removeAdditional off: an unknown field is a 400, not silently dropped. coerceTypes off:
  // {"status": ["down"]} is a 400, not "down" (fastify coerces by default).
  const app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
  const routes: ApiRoute[] = [];
  app.addHook('onRoute', (r) => {
    const access = r.config?.access;
    if (!access) throw new Error(`route ${r.method} ${r.url} declares no access (public, read or write)`);
    for (const m of [r.method].flat())
      if (m !== 'HEAD' && r.url.startsWith('/api/'))
        routes.push({ method: m.toLowerCase(), url: r.url, schema: r.schema as Record<string, unknown>, access });
  });
  app.setErrorHandler(errorHandler(log));
  app.addHook('preValidation', async (req, reply) => {
    const k = req.headers['idempotency-key'];
    if (k !== undefined && (typeof k !== 'string' || !/^[A-Za-z0-9_-]{8,100}$/.test(k)))
      return reply.code(400).send({ error: 'Idempotency-Key must be 8-100 letters, digits, _ or -' });
  });

  // The token is checked when the request arrives (routed, before its body is read or parsed):
  // an unauthenticated client cannot make us parse a large body. Writes always need one, reads
  // when read_requires_token is set. What the token may do is checked per route (scopes).
  const principals = new WeakMap<FastifyRequest, Principal>();
  app.addHook('onRequest', async (req, reply) => {
    // Unmatched requests go to the 404 handler, which tells nothing.
    if (req.routeOptions.url === undefined) return;
    const access = req.routeOptions.config.access;
    if (access === 'public') return;
    const read = access === 'read';
    if (read && !readRequiresToken) return;
    const p = authenticate(req.headers.authorization, tokens);
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
  const principal = (req: FastifyRequest) => {
    const p = principals.get(req);
    // A write handler reached without a checked token is a bug in a route's access: refuse it.
    if (!p) throw Object.assign(new Error('no token was checked for this request'), { statusCode: 401 });
    return p;
  };
  const guard: Guard = {
    operator: (req) => principal(req).name,
    permitted(req, reply, scopes, region) {
      const p = principal(req);
      const denied = scopes.find((s) => !allows(p, s, region));
      if (denied)
        void reply.code(403).send({ error: `token ${p.name} may not ${denied}${region ? ` in ${region}` : ''}` });
      return !denied;
    },
    idempotencyKey(req) {
      const k = req.headers['idempotency-key'];
      return typeof k === 'string' ? k : undefined;
    },
    clientOf(req) {
      const p = principals.get(req);
      return p ? `token ${p.name}` : `address ${req.ip}`;
    },
  };
  return { app, guard, routes };
}

/** How errors become status codes: the store's timeouts say what became of the write. */
function errorHandler(log: Logger) {
  return (err: Error & { statusCode?: number }, _req: FastifyRequest, reply: FastifyReply) => {
    // The store did not answer in time (a frozen etcd, a state file held locked): 503, saying
    // whether the write may still land (a frozen etcd applies a transaction it had taken) or
    // never will. The audit log gets the outcome once it is known; a retry with the same
    // Idempotency-Key is applied at most once. Anything else unexpected stays a 500.
    if (err instanceof StoreTimeoutError && !err.maybeApplied)
      return reply.code(503).send({
        error: `${err.message}; not applied, retry (with the same Idempotency-Key)`,
        outcome: 'not-applied',
      });
    if (err instanceof StoreTimeoutError)
      return reply.code(503).send({
        error: `${err.message}; outcome unknown: read the region back, or retry with the same Idempotency-Key (applied at most once)`,
        outcome: 'unknown',
      });
    if (err instanceof StoreUnavailableError)
      return reply.code(503).send({ error: `${err.message}; retry with the same Idempotency-Key` });
    if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
    log.error({ err }, 'control API error');
    return reply.code(500).send({ error: err.message });
  };
}
