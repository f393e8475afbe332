// /api/v1/signals: pushed health signals (`control.signals`) that calculated health reads
// (`regions.X.health`), set by anyone holding the `health` scope or by an Alertmanager webhook.
// Each value holds for its lease, then reads as unknown; every push is audited.
import type { FastifyInstance } from 'fastify';
import { doc, errorBody, nameParam } from '../api-schemas.js';
import type { ControlContext } from '../context.js';
import { WRITE_DEADLINE_MS, withinDeadline } from './regions.js';

const signalBody = {
  type: 'object',
  required: ['up', 'reason'],
  additionalProperties: false,
  properties: {
    up: { type: 'boolean' },
    reason: { type: 'string', minLength: 1, maxLength: 500 },
    lease_s: { type: 'integer', minimum: 1, maximum: 30 * 86_400 },
  },
} as const;

/** Alertmanager's webhook payload (version 4): only the fields read here. */
const alertmanagerBody = {
  type: 'object',
  required: ['alerts'],
  properties: {
    alerts: {
      type: 'array',
      maxItems: 1000,
      items: {
        type: 'object',
        required: ['status', 'labels'],
        properties: {
          status: { type: 'string', enum: ['firing', 'resolved'] },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          annotations: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
  },
} as const;

type Alert = { status: 'firing' | 'resolved'; labels: Record<string, string>; annotations?: Record<string, string> };

/** The label that names the signal an alert sets: firing is down, resolved is up. */
export const SIGNAL_LABEL = 'gtm_signal';

export function signalRoutes(app: FastifyInstance, ctx: ControlContext): void {
  const { changes, guard } = ctx;
  /** One push, within the write deadline (as an override is). */
  const push = (name: string, up: boolean, reason: string, who: string, opts: { leaseS?: number; action?: string }) =>
    withinDeadline(changes.setSignal(name, up, reason, who, { ...opts, deadline: Date.now() + WRITE_DEADLINE_MS }));
  app.get(
    '/api/v1/signals',
    { config: { access: 'read' }, schema: doc('Every pushed health signal: up, down or unknown (lease ran out)') },
    async () => ctx.feed.signalStates(ctx.now()),
  );

  app.put(
    '/api/v1/signals/:name',
    {
      config: { access: 'write' },
      schema: doc('Set a health signal up or down for its lease (then unknown)', {
        params: nameParam,
        body: signalBody,
        response: { 401: errorBody, 403: errorBody, 404: errorBody },
      }),
    },
    async (req, reply) => {
      if (!guard.permitted(req, reply, ['health'])) return reply;
      const name = (req.params as { name: string }).name;
      const b = req.body as { up: boolean; reason: string; lease_s?: number };
      const r = await push(name, b.up, b.reason, guard.operator(req), { leaseS: b.lease_s });
      return r.ok ? reply.send({ signal: r.signal }) : reply.code(r.code).send({ error: r.error });
    },
  );

  app.post(
    '/api/v1/alertmanager',
    {
      config: { access: 'write' },
      schema: doc(`Alertmanager webhook: each alert labelled ${SIGNAL_LABEL} sets that signal (firing: down)`, {
        body: alertmanagerBody,
        response: { 401: errorBody, 403: errorBody },
      }),
    },
    async (req, reply) => {
      if (!guard.permitted(req, reply, ['health'])) return reply;
      const applied: { signal: string; up: boolean }[] = [];
      const ignored: { alert: string; why: string }[] = [];
      for (const a of (req.body as { alerts: Alert[] }).alerts) {
        const alert = a.labels.alertname ?? '(no alertname)';
        const name = a.labels[SIGNAL_LABEL];
        if (!name) {
          ignored.push({ alert, why: `no ${SIGNAL_LABEL} label` });
          continue;
        }
        const up = a.status === 'resolved';
        const summary = a.annotations?.summary ? `: ${a.annotations.summary}` : '';
        const reason = `alert ${alert} ${a.status}${summary}`.slice(0, 500);
        const r = await push(name, up, reason, guard.operator(req), { action: 'alertmanager' });
        if (r.ok) applied.push({ signal: name, up });
        else ignored.push({ alert, why: r.error });
      }
      // 200 even when some alerts named no known signal: Alertmanager would resend them forever.
      if (ignored.length) ctx.log.warn({ ignored }, 'alertmanager webhook: alerts that set no signal');
      return reply.send({ applied, ignored });
    },
  );
}
