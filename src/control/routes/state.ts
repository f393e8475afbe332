// /api/v1/state (regions, agents, shared anycast VIPs) and /api/v1/audit (recent changes).
import type { FastifyInstance } from 'fastify';
import { anycastViews } from '../../state/index.js';
import { KEYS, isLive, type AgentReport } from '../../contract/index.js';
import { doc } from '../api-schemas.js';
import type { AuditEntry } from '../audit.js';
import { regionViews, type ControlContext } from '../context.js';

export function stateRoutes(app: FastifyInstance, ctx: ControlContext): void {
  const { config, store, audit } = ctx;
  app.get(
    '/api/v1/state',
    { config: { access: 'read' }, schema: doc('Regions, agents (PoPs and VIPs), shared anycast VIPs and overrides') },
    async () => {
      const agents = await store.list<AgentReport>(KEYS.agents);
      return {
        regions: regionViews(ctx),
        // Pushed health signals (control.signals): up, down, or unknown once the lease ran out.
        signals: ctx.feed.signalStates(ctx.now()),
        agents: agents.map((e) => ({
          ...e.value,
          leaseExpiresAt: e.expiresAt ? new Date(e.expiresAt).toISOString() : null,
        })),
        pops: config.pops.map((p) => ({ name: p.name, region: p.region, vips: p.vips.map((v) => v.prefix) })),
        // Per steered name: the weights operators set for one region (live ones only).
        serviceWeights: ctx.feed
          .serviceWeights()
          .filter((w) => isLive(w.override, ctx.now()))
          .map((w) => ({ service: w.service, region: w.region, ...w.override })),
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
      config: { access: 'read' },
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
}
