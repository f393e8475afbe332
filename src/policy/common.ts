// Parsing helpers shared by the policy plugins: references to the service's pool regions.
import { join, list, obj, type Problems } from '../validate/index.js';

export function regionRef(p: Problems, path: string, v: unknown, pools: string[]): string | undefined {
  if (typeof v !== 'string' || !pools.includes(v)) {
    p.add(path, `must name one of this service's pool regions (${pools.join(', ')})`);
    return undefined;
  }
  return v;
}

export function regionList(
  p: Problems,
  path: string,
  v: unknown,
  pools: string[],
  optional = false,
): string[] | undefined {
  const l = list(p, path, v, { optional, nonEmpty: true });
  if (!l) return undefined;
  return l.map((r, i) => regionRef(p, join(path, i), r, pools)).filter((r): r is string => r !== undefined);
}

/** `{ regions?: [...] }`, the body of the policies that only narrow the pool list. */
export function regionsBody(p: Problems, path: string, body: unknown, pools: string[]): string[] | undefined {
  if (body === undefined || body === null) return undefined;
  const b = obj(p, path, body, ['regions']);
  return b ? regionList(p, join(path, 'regions'), b.regions, pools, true) : undefined;
}
