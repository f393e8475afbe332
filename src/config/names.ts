// Names in the config: absolute, lower case, valid; the region-status and TTL limits.
import { REGION_STATUSES, type RegionStatus as Status } from '../contract/index.js';
import { Problems, str } from '../validate/index.js';

export const isRegionStatus = (v: unknown): v is Status => REGION_STATUSES.includes(v as Status);
const LABEL = /^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/i;
export const REGION_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const TTL_MAX = 2147483647;

/** Makes a configured name absolute: relative names hang off the zone, '@' is the apex. */
export function absoluteName(name: string, origin: string): string {
  if (name === '@') return origin;
  if (name.endsWith('.')) return name.slice(0, -1).toLowerCase();
  return origin ? `${name}.${origin}`.toLowerCase() : name.toLowerCase();
}

/** A name given on its own (a zone, a key): absolute whether or not it ends with a dot. */
export const absoluteOf = (name: string): string => absoluteName(name.endsWith('.') ? name : `${name}.`, '');

export function validDomainName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((l) => LABEL.test(l));
}

/** A `*` is a wildcard only as the whole leftmost label (RFC 4592 §2.1.1); anywhere else it is refused. */
export const misplacedWildcard = (name: string) => name.split('.').some((l, i) => l === '*' && i > 0);

export function domain(p: Problems, path: string, v: unknown, origin: string): string | undefined {
  const s = str(p, path, v);
  if (s === undefined) return undefined;
  const abs = absoluteName(s, origin);
  if (!validDomainName(abs)) {
    p.add(path, 'not a valid domain name');
    return undefined;
  }
  if (misplacedWildcard(abs)) {
    p.add(path, `${abs}: a * is a wildcard only as the leftmost label (RFC 4592)`);
    return undefined;
  }
  return abs;
}

export { inZone } from '../wire/index.js';
