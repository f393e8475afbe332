// /api/v1/explain: the answer code the DNS runs, on this process's view of the shared state,
// plus what that state is made of for every candidate region. One explainer per process (one
// Authority, its zones compiled once), made on the first request: the geo data and the DNS code
// are loaded only then (the control plane needs neither otherwise).
import type { FastifyInstance } from 'fastify';
import { KEYS, type AgentReport } from '../../contract/index.js';
import { doc, explainQuery } from '../api-schemas.js';
import { regionViews, type ControlContext } from '../context.js';
import { PerClientLimit } from '../rate-limit.js';

/**
 * Explains per client (token name, else address): each runs the answer code and reads the
 * store, so a flood from one client must not cost the others (or the process) anything.
 */
export const EXPLAIN_LIMIT = { rate: 5, burst: 20 };

type ExplainQuery = { name: string; type: string; client: string; ecs?: string };

export function explainRoutes(app: FastifyInstance, ctx: ControlContext): void {
  const { config, store, state } = ctx;
  let explainer: Promise<(q: ExplainQuery) => string[]> | undefined;
  const limit = new PerClientLimit(EXPLAIN_LIMIT);
  const explainerOf = () =>
    (explainer ??= (async () => {
      const [{ Explainer }, { GeoResolver }] = await Promise.all([
        import('../../dns/index.js'),
        import('../../geo/index.js'),
      ]);
      const e = new Explainer(config, GeoResolver.open(config.geo.database, config.geo.asnDatabase), state);
      return (q: ExplainQuery) => e.explain(q);
    })());
  app.get(
    '/api/v1/explain',
    {
      config: { access: 'read' },
      schema: doc('Why this client gets this answer, from the live state (rate-limited per client)', {
        querystring: explainQuery,
      }),
    },
    async (req, reply) => {
      const wait = limit.take(ctx.guard.clientOf(req), ctx.now());
      if (wait > 0)
        return reply
          .code(429)
          .header('retry-after', String(wait))
          .send({ error: `explain is limited to ${EXPLAIN_LIMIT.rate} per second per client; retry in ${wait} s` });
      let lines: string[];
      try {
        lines = (await explainerOf())(req.query as ExplainQuery);
      } catch (err) {
        return reply.code(400).send({ error: (err as Error).message });
      }
      const agents = await store.list<AgentReport>(KEYS.agents);
      const t = ctx.now();
      const regions = regionViews(ctx).map((v) => {
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
}
