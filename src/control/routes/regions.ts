// /api/v1/regions: every region as DNS sees it, and operators' overrides (drain, force a status,
// set a weight, undrain), each scoped, audited and within a write deadline.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Scope } from '../../auth/index.js';
import { StoreTimeoutError } from '../../state/index.js';
import { doc, drainBody, errorBody, nameParam, overrideBody, reasonQuery, regionView } from '../api-schemas.js';
import type { ChangeRequest, ChangeResult } from '../changes.js';
import { regionViews, type ControlContext } from '../context.js';

/** How long a write may take before the API answers 503 (outcome unknown, or not applied: the body says which). */
export const WRITE_DEADLINE_MS = 3000;

/**
 * Answers at the deadline whatever the store is doing (its client may retry): the change itself
 * carries the same deadline and writes nothing once it has passed.
 */
export function withinDeadline<T>(p: Promise<T>, ms = WRITE_DEADLINE_MS + 200): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (t = setTimeout(() => reject(new StoreTimeoutError('the change')), ms)),
  );
  return Promise.race([p, late]).finally(() => clearTimeout(t));
}

type OverrideBody = {
  status?: ChangeRequest['status'];
  weight?: number;
  reason: string;
  expires_in_s?: number;
  force?: boolean;
};

export function sendChange(reply: FastifyReply, r: ChangeResult) {
  return r.ok
    ? reply
        .header('idempotent-replayed', r.replayed ? 'true' : 'false')
        // The parts the change wrote: `override` (status) and/or `weightOverride`; null: removed.
        .send({ override: r.override, weightOverride: r.weight })
    : reply.code(r.code).send({ error: r.error });
}

/** Applies an override within the write deadline and answers with the result. */
async function change(
  ctx: ControlContext,
  req: FastifyRequest,
  reply: FastifyReply,
  region: string,
  body: OverrideBody,
  action: string,
) {
  const { changes, guard } = ctx;
  return sendChange(
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
        guard.operator(req),
        action,
        // A write must land within 3 s or not at all (the client is told 503 and may retry with
        // the same Idempotency-Key).
        { deadline: Date.now() + WRITE_DEADLINE_MS, idempotencyKey: guard.idempotencyKey(req) },
      ),
    ),
  );
}

export function regionRoutes(app: FastifyInstance, ctx: ControlContext): void {
  const { changes, guard } = ctx;
  app.get(
    '/api/v1/regions',
    {
      config: { access: 'read' },
      schema: doc('Every region as DNS sees it', { response: { 200: { type: 'array', items: regionView } } }),
    },
    async () => regionViews(ctx),
  );

  app.put(
    '/api/v1/regions/:name/override',
    {
      config: { access: 'write' },
      schema: doc('Force a status and/or set a weight, each a part of its own with this reason and expiry', {
        params: nameParam,
        body: overrideBody,
        response: { 401: errorBody, 404: errorBody, 409: errorBody },
      }),
    },
    async (req, reply) => {
      const region = (req.params as { name: string }).name;
      const b = req.body as OverrideBody;
      const scopes: Scope[] = [
        ...(b.status ? ['drain' as const] : []),
        ...(b.weight !== undefined ? ['weight' as const] : []),
        ...(b.force ? ['force' as const] : []),
      ];
      if (!guard.permitted(req, reply, scopes.length ? scopes : ['drain'], region)) return reply;
      return change(ctx, req, reply, region, b, 'override');
    },
  );

  app.post(
    '/api/v1/regions/:name/drain',
    {
      config: { access: 'write' },
      schema: doc('Stop handing the region out (draining)', { params: nameParam, body: drainBody }),
    },
    async (req, reply) => {
      const region = (req.params as { name: string }).name;
      const body = req.body as OverrideBody;
      if (!guard.permitted(req, reply, body.force ? ['drain', 'force'] : ['drain'], region)) return reply;
      return change(ctx, req, reply, region, { ...body, status: 'draining' }, 'drain');
    },
  );
  removalRoutes(app, ctx);
}

/** Removing a part of a region's override: the status (undrain) or the weight, each by its own scope. */
function removalRoutes(app: FastifyInstance, ctx: ControlContext): void {
  const { changes, guard } = ctx;
  app.delete(
    '/api/v1/regions/:name/override',
    {
      config: { access: 'write' },
      schema: doc("Remove the operator's status (undrain): health decides again; a weight stays", {
        params: nameParam,
        querystring: reasonQuery,
      }),
    },
    async (req, reply) => {
      const region = (req.params as { name: string }).name;
      if (!guard.permitted(req, reply, ['drain'], region)) return reply;
      const reason = (req.query as { reason: string }).reason;
      const deadline = Date.now() + WRITE_DEADLINE_MS;
      return sendChange(reply, await withinDeadline(changes.clear(region, reason, guard.operator(req), { deadline })));
    },
  );

  app.delete(
    '/api/v1/regions/:name/weight',
    {
      config: { access: 'write' },
      schema: doc("Remove the operator's weight: the configured weight applies again", {
        params: nameParam,
        querystring: reasonQuery,
      }),
    },
    async (req, reply) => {
      const region = (req.params as { name: string }).name;
      if (!guard.permitted(req, reply, ['weight'], region)) return reply;
      const reason = (req.query as { reason: string }).reason;
      const deadline = Date.now() + WRITE_DEADLINE_MS;
      return sendChange(
        reply,
        await withinDeadline(changes.clearWeight(region, reason, guard.operator(req), { deadline })),
      );
    },
  );
}
