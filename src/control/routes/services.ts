// /api/v1/services/:service/regions/:name/weight: one region's weight for one steered name.
import type { FastifyInstance } from 'fastify';
import { doc, errorBody, nameParam, overrideBody, reasonQuery } from '../api-schemas.js';
import type { ControlContext } from '../context.js';

const svcParams = {
  type: 'object',
  required: ['service', 'name'],
  properties: { service: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }, name: nameParam.properties.name },
} as const;

export function serviceRoutes(app: FastifyInstance, ctx: ControlContext): void {
  const { changes, guard } = ctx;
  const setWeight = async (
    p: { service: string; name: string },
    weight: number | null,
    reason: string,
    operator: string,
    expiresInS?: number,
  ) => {
    const r = await changes.setServiceWeight(p.service, p.name, weight, reason, operator, expiresInS);
    return r.ok ? { ok: true as const, body: { service: p.service, region: p.name, weight } } : r;
  };
  app.put(
    '/api/v1/services/:service/regions/:name/weight',
    {
      config: { access: 'write' },
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
      if (!guard.permitted(req, reply, ['weight'], p.name)) return reply;
      const b = req.body as { weight: number; reason: string; expires_in_s?: number };
      const r = await setWeight(p, b.weight, b.reason, guard.operator(req), b.expires_in_s);
      return r.ok ? reply.send(r.body) : reply.code(r.code).send({ error: r.error });
    },
  );
  app.delete(
    '/api/v1/services/:service/regions/:name/weight',
    {
      config: { access: 'write' },
      schema: doc('Remove the weight for one steered name', { params: svcParams, querystring: reasonQuery }),
    },
    async (req, reply) => {
      const p = req.params as { service: string; name: string };
      if (!guard.permitted(req, reply, ['weight'], p.name)) return reply;
      const r = await setWeight(p, null, (req.query as { reason: string }).reason, guard.operator(req));
      return r.ok ? reply.send(r.body) : reply.code(r.code).send({ error: r.error });
    },
  );
}
