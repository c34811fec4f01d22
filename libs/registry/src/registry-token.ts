import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RepositoryAction } from '@strata/domain';

/**
 * The Docker token flow's short-lived bearer tokens: a JWT (HS256) signed with a key only this node
 * holds. Clients treat it as opaque; the node reads back who asked (`sub`, null for anonymous) and the
 * actions granted per repository (`access`, the token spec's claim).
 */
export interface RegistryAccessClaim {
  type: 'repository';
  name: string;
  actions: RepositoryAction[];
}

export interface RegistryTokenClaims {
  iss: string;
  aud: string;
  /** The principal's name, or null when the token was issued to an anonymous caller. */
  sub: string | null;
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  access: RegistryAccessClaim[];
}

const b64 = (value: Buffer | string) => Buffer.from(value).toString('base64url');
const HEADER = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export function signRegistryToken(claims: RegistryTokenClaims, key: Buffer): string {
  const body = `${HEADER}.${b64(JSON.stringify(claims))}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

/** Something shaped like a JWT: the node tries it as a registry token before as an API token. */
export const looksLikeRegistryToken = (token: string): boolean => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);

/**
 * The claims, if the signature is ours, the audience is this service and the token is not expired;
 * null otherwise (the caller answers 401 UNAUTHORIZED, as for an unknown token).
 */
export function verifyRegistryToken(token: string, key: Buffer, options: { audience: string; now?: number }): RegistryTokenClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== HEADER) return null;
  const expected = createHmac('sha256', key).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2]!, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let claims: RegistryTokenClaims;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as RegistryTokenClaims;
  } catch {
    return null;
  }
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (claims.aud !== options.audience || typeof claims.exp !== 'number' || claims.exp < now || claims.nbf > now + 5) return null;
  if (!Array.isArray(claims.access)) return null;
  return claims;
}

export const newTokenId = () => randomBytes(12).toString('base64url');

/** A requested scope: `repository:<name>:<action>[,<action>…]` (the token spec's grammar). */
export interface RequestedScope {
  type: string;
  name: string;
  actions: string[];
}

/**
 * Every `scope` query value (repeated, or space-separated inside one value) parsed. The name may hold
 * ':' in other registries (a port), so the type is up to the first ':' and the actions after the last.
 * Scopes that do not parse are ignored, like the distribution token server does.
 */
export function parseScopes(values: unknown): RequestedScope[] {
  const list = (Array.isArray(values) ? values : [values]).filter((v): v is string => typeof v === 'string');
  const scopes: RequestedScope[] = [];
  for (const scope of list.flatMap((v) => v.split(' ')).filter(Boolean)) {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first < 0 || last === first) continue;
    scopes.push({ type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) });
  }
  return scopes;
}
