// /api/v1/drills: failover drills report their timelines here (the lab's `gtm lab drill` does
// after each drill), and the console draws the last one as a chart. Kept in this process's memory
// (the newest KEEP), not in the shared store: a drill record is for people watching now; the
// audit log keeps that a drill ran, who ran it and whether it passed.
import type { FastifyInstance } from 'fastify';
import { DRILL_LANES, FAILOVER_PHASES, type DrillRecord } from '../../contract/index.js';
import { doc, errorBody } from '../api-schemas.js';
import type { ControlContext } from '../context.js';

const KEEP = 10;
const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength }) as const;

const drillBody = {
  type: 'object',
  required: ['name', 'description', 'passed', 'startedAt', 'timeline', 'expectations'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
    description: text(500),
    passed: { type: 'boolean' },
    startedAt: { type: 'integer', minimum: 0 },
    timeline: {
      type: 'array',
      maxItems: 2000,
      items: {
        type: 'object',
        required: ['ms', 'what', 'lane'],
        additionalProperties: false,
        properties: {
          ms: { type: 'integer', minimum: -3_600_000, maximum: 3_600_000 },
          what: text(500),
          lane: { type: 'string', enum: DRILL_LANES },
          ok: { type: 'boolean' },
        },
      },
    },
    expectations: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        required: ['text', 'ok', 'detail'],
        additionalProperties: false,
        properties: { text: text(500), ok: { type: 'boolean' }, detail: { type: 'string', maxLength: 2000 } },
      },
    },
    phases: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(
        FAILOVER_PHASES.map((p) => [p, { type: 'integer', minimum: 0, maximum: 3_600_000 }]),
      ),
    },
  },
} as const;

export function drillRoutes(app: FastifyInstance, ctx: ControlContext): void {
  const recent: (DrillRecord & { who: string })[] = [];
  app.post(
    '/api/v1/drills',
    {
      config: { access: 'write' },
      schema: doc("Record a drill's timeline (the console charts the last one)", {
        body: drillBody,
        response: { 401: errorBody, 403: errorBody },
      }),
    },
    async (req, reply) => {
      // A drill takes regions out on purpose: whoever may drain may record one.
      if (!ctx.guard.permitted(req, reply, ['drain'])) return reply;
      const d = req.body as DrillRecord;
      const who = ctx.guard.operator(req);
      ctx.audit.append({
        at: new Date(ctx.now()).toISOString(),
        who,
        action: 'drill',
        target: d.name,
        why: `${d.passed ? 'passed' : 'FAILED'}: ${d.description}`,
        change: { startedAt: new Date(d.startedAt).toISOString(), events: d.timeline.length },
        outcome: 'applied',
      });
      recent.unshift({ ...d, who });
      recent.length = Math.min(recent.length, KEEP);
      return reply.code(201).send({ recorded: d.name });
    },
  );
  app.get(
    '/api/v1/drills',
    { config: { access: 'read' }, schema: doc('The drills recorded since this control process started, newest first') },
    async () => recent,
  );
}
