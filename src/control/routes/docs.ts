// The operators' console (/) and the OpenAPI document of every /api route (/openapi.json).
import type { FastifyInstance } from 'fastify';
import { errorBody } from '../api-schemas.js';
import type { ApiRoute } from '../http.js';
import { CONSOLE_PAGE } from '../console-page.js';

export function docRoutes(app: FastifyInstance, routes: ApiRoute[]): void {
  app.get('/', { config: { access: 'public' } }, async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header(
        'content-security-policy',
        "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      )
      // A page that acts is never framed by another site (clickjacking).
      .header('x-frame-options', 'DENY')
      .send(CONSOLE_PAGE),
  );
  app.get('/openapi.json', { config: { access: 'public' } }, async () => ({
    openapi: '3.0.3',
    info: { title: 'gtm control API', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths: routes.reduce<Record<string, Record<string, unknown>>>((acc, r) => {
      const path = r.url.replace(/:(\w+)/g, '{$1}');
      acc[path] = { ...acc[path], [r.method]: operation(r) };
      return acc;
    }, {}),
  }));
}

/** One route as an OpenAPI operation. */
function operation(r: ApiRoute) {
  const s = r.schema ?? {};
  return {
    summary: s.summary,
    ...(r.access === 'write' ? { security: [{ bearer: [] }] } : {}),
    parameters: [
      ...Object.keys((s.params as { properties?: object } | undefined)?.properties ?? {}).map((n) => ({
        name: n,
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...Object.entries((s.querystring as { properties?: Record<string, object> } | undefined)?.properties ?? {}).map(
        ([n, sch]) => ({ name: n, in: 'query', schema: sch }),
      ),
    ],
    ...(s.body ? { requestBody: { required: true, content: { 'application/json': { schema: s.body } } } } : {}),
    responses: {
      200: { description: 'OK' },
      ...Object.fromEntries(
        Object.keys((s.response as object | undefined) ?? {})
          .filter((c) => c !== '200')
          .map((c) => [c, { description: 'error', content: { 'application/json': { schema: errorBody } } }]),
      ),
    },
  };
}
