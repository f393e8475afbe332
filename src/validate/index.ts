// A small path-tracking validator. Every problem is collected with the path where it
// was found (e.g. `services.www.pools[2].vip: not an IPv4 address`) so an operator sees
// all of them at once instead of fixing a file one error at a time.
import { isIPv4, isIPv6 } from '../net/index.js';

export class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(path ? `${path}: ${message}` : message);
  }
  get ok(): boolean {
    return this.list.length === 0;
  }
}

export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reports keys that the schema does not know: typos must not be silently ignored. */
export function noUnknownKeys(p: Problems, path: string, v: Obj, allowed: readonly string[]): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) p.add(join(path, k), `unknown key (expected one of: ${allowed.join(', ')})`);
  }
}

export function obj(p: Problems, path: string, v: unknown, allowed?: readonly string[]): Obj | undefined {
  if (!isObj(v)) {
    p.add(path, 'must be a mapping');
    return undefined;
  }
  if (allowed) noUnknownKeys(p, path, v, allowed);
  return v;
}

export function str(
  p: Problems,
  path: string,
  v: unknown,
  opts: { optional?: boolean; pattern?: RegExp; what?: string } = {},
): string | undefined {
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'string' || v.length === 0) {
    p.add(path, 'must be a non-empty string');
    return undefined;
  }
  if (opts.pattern && !opts.pattern.test(v)) {
    p.add(path, `not ${opts.what ?? `matching ${opts.pattern}`}`);
    return undefined;
  }
  return v;
}

export function int(
  p: Problems,
  path: string,
  v: unknown,
  min: number,
  max: number,
  fallback?: number,
): number | undefined {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    p.add(path, `must be an integer from ${min} to ${max}`);
    return undefined;
  }
  return v;
}

export function num(
  p: Problems,
  path: string,
  v: unknown,
  min: number,
  max: number,
  fallback?: number,
): number | undefined {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    p.add(path, `must be a number from ${min} to ${max}`);
    return undefined;
  }
  return v;
}

export function bool(p: Problems, path: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') {
    p.add(path, 'must be true or false');
    return fallback;
  }
  return v;
}

export function ipv4(p: Problems, path: string, v: unknown): string | undefined {
  if (typeof v !== 'string' || !isIPv4(v)) {
    p.add(path, 'not an IPv4 address');
    return undefined;
  }
  return v;
}

export function ip(p: Problems, path: string, v: unknown): string | undefined {
  if (typeof v !== 'string' || !(isIPv4(v) || isIPv6(v))) {
    p.add(path, 'not an IP address');
    return undefined;
  }
  return v;
}

export function ipv6(p: Problems, path: string, v: unknown): string | undefined {
  if (typeof v !== 'string' || !isIPv6(v)) {
    p.add(path, 'not an IPv6 address');
    return undefined;
  }
  return v;
}

export function list(
  p: Problems,
  path: string,
  v: unknown,
  opts: { optional?: boolean; nonEmpty?: boolean } = {},
): unknown[] | undefined {
  if (v === undefined && opts.optional) return undefined;
  if (!Array.isArray(v)) {
    p.add(path, 'must be a list');
    return undefined;
  }
  if (opts.nonEmpty && v.length === 0) {
    p.add(path, 'must not be empty');
    return undefined;
  }
  return v;
}

/** host:port with an IPv4 or bracketed IPv6 host. */
export function hostPort(p: Problems, path: string, v: unknown): { host: string; port: number } | undefined {
  const parsed = typeof v === 'string' ? parseHostPort(v) : undefined;
  if (!parsed) p.add(path, 'must be HOST:PORT (e.g. 127.0.0.1:5353 or [::1]:5353)');
  return parsed;
}

export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+|[A-Za-z0-9.-]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const host = (m[1] ?? m[2]) as string;
  const port = Number(m[3]);
  if (port > 65535) return undefined; // 0 asks the kernel for a free port
  if (m[1] !== undefined && !isIPv6(host)) return undefined;
  return { host, port };
}

/**
 * Operator text (reasons, in the control and agent APIs): printable, no NUL or other controls,
 * no bidi overrides. A JSON schema pattern; lone surrogates are checked apart (no pattern can).
 */
export const REASON_PATTERN = '^[^\\u0000-\\u001f\\u007f\\u202a-\\u202e\\u2066-\\u2069]*$';
