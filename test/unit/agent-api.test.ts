// The agent's maintenance API in-process (no gobgpd): what a hostile body gets, and that
// nothing reaches the agent unless the request is well-formed and authorised.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentApi } from '../../src/agent/api.js';
import { hashToken } from '../../src/auth/index.js';

const TOKEN = 'agent-api-test-token-0123456789';
const calls: { enabled: boolean; reason?: string; who: string }[] = [];
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  app = await startAgentApi(
    '127.0.0.1',
    0,
    {
      health: () => ({ ok: true, serving: true, bgpApiUp: true, sessionUp: true }),
      status: () => ({}) as never,
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
      setMaintenance: (enabled, reason, who) => (calls.push({ enabled, reason, who }), { maintenance: enabled }),
    },
    {
      tokens: [{ name: 'oncall', scopes: ['drain'], regions: ['us-east'], sha256: hashToken(TOKEN) }],
      readRequiresToken: false,
      region: 'us-east',
    },
  );
  const a = app.server.address() as { port: number };
  url = `http://127.0.0.1:${a.port}/maintenance`;
});
afterAll(async () => {
  await app?.close();
});

const post = (body: string, token = TOKEN) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });

describe('agent maintenance API under hostile input', () => {
  it('refuses lone surrogates, control characters, bidi overrides, coerced types and unknown fields', async () => {
    for (const body of [
      '{"enabled":true,"reason":"lone \\ud800 surrogate"}',
      '{"enabled":true,"reason":"bell \\u0007"}',
      '{"enabled":true,"reason":"\\u202eevil"}',
      '{"enabled":"true","reason":"x"}',
      '{"enabled":true,"reason":"x","extra":1}',
      '{"enabled":true,"reason":"' + 'x'.repeat(501) + '"}',
      '{not json',
    ])
      expect((await post(body)).status, body.slice(0, 40)).toBe(400);
    expect((await post('{"enabled":true,"reason":"x"}', 'wrong')).status).toBe(401);
    expect(calls).toEqual([]);
  });
  it('applies a well-formed, authorised request once, with who and why', async () => {
    const r = await post('{"enabled":true,"reason":"kernel upgrade 🚀"}');
    expect(r.status).toBe(200);
    expect(calls).toEqual([{ enabled: true, reason: 'kernel upgrade 🚀', who: 'oncall' }]);
  });
});
