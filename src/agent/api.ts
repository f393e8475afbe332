// The agent's HTTP API: /healthz, /status, /metrics, POST /maintenance.
import Fastify, { type FastifyInstance } from 'fastify';
import type { AgentStatus } from './status.js';

export interface AgentApiHandlers {
  health(): { ok: boolean; serving: boolean; bgpApiUp: boolean; sessionUp: boolean };
  status(): AgentStatus;
  metrics(): Promise<{ contentType: string; body: string }>;
  setMaintenance(enabled: boolean, reason: string | undefined): { maintenance: boolean };
}

export async function startAgentApi(host: string, port: number, h: AgentApiHandlers): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
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
          properties: { enabled: { type: 'boolean' }, reason: { type: 'string', maxLength: 500 } },
        },
      },
    },
    async (req) => {
      const body = req.body as { enabled: boolean; reason?: string };
      return h.setMaintenance(body.enabled, body.reason);
    },
  );
  await app.listen({ host, port });
  return app;
}
