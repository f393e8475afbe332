// Public entry of the auth capability: API tokens with scopes, shared by the control API and
// the agents' API. The config holds a token's SHA-256 (or the name of the environment variable
// that holds the token): only the process that checks a token needs it, and none needs the
// secret in its environment to start. Presented tokens are hashed and compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a token may do. `admin` implies every other scope. */
export const SCOPES = ['read', 'drain', 'weight', 'force', 'health', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** A token as configured (control.api.tokens). */
export interface ApiToken {
  name: string;
  scopes: Scope[];
  /** Only these regions (absent: all). */
  regions?: string[];
  /** SHA-256 of the token, hex. */
  sha256?: string;
  /** Environment variable holding the token itself. */
  env?: string;
}

export interface Principal {
  name: string;
  scopes: Scope[];
  regions?: string[];
}

interface Usable extends Principal {
  hash: Buffer;
}

export const MIN_TOKEN_LENGTH = 16;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The tokens this process can check: hashed ones always; env ones when the variable holds a
 * token of at least 16 characters (the others are returned as `missing`, for a warning).
 */
export function usableTokens(
  tokens: ApiToken[],
  env: NodeJS.ProcessEnv = process.env,
): { usable: Usable[]; missing: string[] } {
  const usable: Usable[] = [];
  const missing: string[] = [];
  for (const t of tokens) {
    const secret = t.env ? env[t.env] : undefined;
    const hex = t.sha256 ?? (secret && secret.length >= MIN_TOKEN_LENGTH ? hashToken(secret) : undefined);
    if (!hex) {
      missing.push(`${t.name} (${t.env} is unset or shorter than ${MIN_TOKEN_LENGTH} characters)`);
      continue;
    }
    usable.push({ name: t.name, scopes: t.scopes, regions: t.regions, hash: Buffer.from(hex, 'hex') });
  }
  return { usable, missing };
}

/** The principal a `Bearer` header names, or undefined (no header, unknown token). */
export function authenticate(header: string | undefined, tokens: Usable[]): Principal | undefined {
  if (!header?.startsWith('Bearer ')) return undefined;
  const presented = createHash('sha256').update(header.slice(7), 'utf8').digest();
  let found: Usable | undefined;
  // Compare against every token, so the time taken does not say which one matched.
  for (const t of tokens) if (timingSafeEqual(t.hash, presented) && !found) found = t;
  return found && { name: found.name, scopes: found.scopes, regions: found.regions };
}

/** Whether `p` may act with `scope`, on `region` when the action concerns one. */
export function allows(p: Principal, scope: Scope, region?: string): boolean {
  const scoped = p.scopes.includes('admin') || p.scopes.includes(scope);
  const inRegion = region === undefined || p.regions === undefined || p.regions.includes(region);
  return scoped && inRegion;
}
