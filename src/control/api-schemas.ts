// JSON schemas of the control API's routes (validation and the OpenAPI document).
import { REASON_PATTERN } from '../validate/index.js';
import { type FastifySchema } from 'fastify';
import { REGION_SOURCES, REGION_STATUSES } from '../contract/index.js';

export const regionView = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    status: { type: 'string', enum: REGION_STATUSES },
    weight: { type: ['number', 'null'] },
    reason: { type: 'string' },
    source: { type: ['string', 'null'], enum: [...REGION_SOURCES, null] },
    held: { type: 'boolean' },
    unknown: { type: 'boolean' },
    familyOut: {
      type: ['object', 'null'],
      properties: { ipv4: { type: 'string' }, ipv6: { type: 'string' } },
    },
    poolsOut: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
    since: { type: 'string' },
    override: { type: ['object', 'null'], additionalProperties: true },
    weightOverride: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

/** Route schemas also carry a summary for the OpenAPI document (fastify ignores it). */
export function doc(summary: string, schema: Record<string, unknown> = {}): FastifySchema {
  return { ...schema, summary } as FastifySchema;
}

export const errorBody = { type: 'object', properties: { error: { type: 'string' } } } as const;
export const nameParam = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' } },
} as const;

export const overrideBody = {
  type: 'object',
  required: ['reason'],
  // A change names what it changes: a status, a weight or both.
  anyOf: [{ required: ['status'] }, { required: ['weight'] }],
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: REGION_STATUSES },
    weight: { type: 'number', minimum: 0, maximum: 1000000 },
    reason: { type: 'string', minLength: 1, maxLength: 500, pattern: REASON_PATTERN },
    expires_in_s: { type: 'integer', minimum: 1, maximum: 31_536_000 },
    force: { type: 'boolean' },
  },
} as const;

export const drainBody = {
  type: 'object',
  required: ['reason'],
  additionalProperties: false,
  properties: {
    reason: overrideBody.properties.reason,
    expires_in_s: overrideBody.properties.expires_in_s,
    force: { type: 'boolean' },
  },
} as const;

export const reasonQuery = {
  type: 'object',
  required: ['reason'],
  properties: { reason: { type: 'string', minLength: 1, maxLength: 500, pattern: REASON_PATTERN } },
} as const;

/** `GET /api/v1/explain`: a question as a resolver would send it. */
export const explainQuery = {
  type: 'object',
  required: ['name', 'client'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9_.-]+$' },
    type: { type: 'string', pattern: '^[A-Za-z]{1,10}$', default: 'A' },
    client: { type: 'string', minLength: 2, maxLength: 45, pattern: '^[0-9A-Fa-f:.]+$' },
    ecs: { type: 'string', minLength: 2, maxLength: 49, pattern: '^[0-9A-Fa-f:./]+$' },
  },
} as const;
