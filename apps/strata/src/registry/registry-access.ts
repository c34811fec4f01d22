import { Injectable } from '@nestjs/common';
import { allowedActions, isNodeAdmin, type RepositoryAction } from '@strata/domain';
import {
  isRepositoryName,
  looksLikeRegistryToken,
  newTokenId,
  parseScopes,
  RegistryError,
  signRegistryToken,
  verifyRegistryToken,
  type RegistryAccessClaim,
} from '@strata/registry';
import type { Request } from 'express';
import { Principals } from '../auth/principals.service.js';
import { RegistryTokenKey } from '../auth/registry-token-key.js';
import type { Principal } from '../auth/token-store.js';
import { ReadModels } from '../projections/read-models.service.js';

/** The `service` of the challenge and the `aud` of the tokens this node issues. */
export const REGISTRY_SERVICE = 'strata';
/** How long a token from /v2/token lives. Short: grants and revocations are checked again at each use anyway. */
export const REGISTRY_TOKEN_SECONDS = 300;

/**
 * Who is asking: a principal or nobody (anonymous). `scope` is set when the caller came with a token
 * from /v2/token: then it may do only what that token carries, and what its grants still allow.
 */
export interface RegistryCaller {
  principal: Principal | null;
  scope: Map<string, Set<RepositoryAction>> | null;
}

const ORDER: RepositoryAction[] = ['pull', 'push', 'delete'];

/**
 * Access to `/v2/`. Credentials: a token from /v2/token (the Docker token flow), a plain Bearer API
 * token, or Basic `<principal>:<API token>`. What they allow: the principal's grants (pull, push
 * ⊇ pull, admin ⊇ delete), narrowed to a registry token's claims; anyone may pull public repositories.
 * A repository the caller may not pull answers 401 whether it exists or not.
 */
@Injectable()
export class RegistryAccess {
  constructor(
    private readonly principals: Principals,
    private readonly reads: ReadModels,
    private readonly tokenKey: RegistryTokenKey,
  ) {}

  /** A wrong token is refused outright, never downgraded to anonymous: the client meant to be someone. */
  async authenticate(request: Request): Promise<RegistryCaller> {
    const header = request.headers.authorization;
    if (!header) return { principal: null, scope: null };
    const bearer = /^Bearer\s+(\S+)$/i.exec(header);
    if (bearer) {
      const token = bearer[1]!;
      if (looksLikeRegistryToken(token)) {
        const claims = verifyRegistryToken(token, this.tokenKey.key, { audience: REGISTRY_SERVICE });
        if (!claims) throw new RegistryError('UNAUTHORIZED', 'invalid or expired registry token: fetch a new one from the realm');
        const principal = claims.sub === null ? null : await this.principals.byName(claims.sub);
        if (claims.sub !== null && !principal) throw new RegistryError('UNAUTHORIZED', 'the principal of this token was revoked');
        const scope = new Map(claims.access.filter((a) => a.type === 'repository').map((a) => [a.name, new Set(a.actions)]));
        return { principal, scope };
      }
      const principal = await this.principals.authenticate(token);
      if (!principal) throw new RegistryError('UNAUTHORIZED', 'unknown or revoked token');
      return { principal, scope: null };
    }
    const principal = await this.basic(header);
    if (principal === undefined) throw new RegistryError('UNAUTHORIZED', 'send "Authorization: Bearer <token>" (an API token, or one from /v2/token) or Basic <principal>:<API token>');
    return { principal, scope: null };
  }

  /** `Basic <name>:<API token>`: the principal, or undefined when the header is not Basic. Wrong credentials throw. */
  private async basic(header: string): Promise<Principal | undefined> {
    const basic = /^Basic\s+(\S+)$/i.exec(header);
    if (!basic) return undefined;
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const principal = colon < 0 ? null : await this.principals.authenticate(decoded.slice(colon + 1));
    if (!principal || principal.name !== decoded.slice(0, colon)) throw new RegistryError('UNAUTHORIZED', 'wrong principal name or token');
    return principal;
  }

  /**
   * GET /v2/token: who the credentials name (none: anonymous), and for each requested
   * `repository:<name>:<actions>` scope the actions that are both asked for and allowed.
   * `*` asks for everything the caller may do.
   */
  async issueToken(request: Request): Promise<{ token: string; expiresIn: number; issuedAt: string; access: RegistryAccessClaim[] }> {
    const header = request.headers.authorization;
    let principal: Principal | null = null;
    if (header) {
      const bearer = /^Bearer\s+(\S+)$/i.exec(header);
      if (bearer) {
        principal = await this.principals.authenticate(bearer[1]!);
        if (!principal) throw new RegistryError('UNAUTHORIZED', 'unknown or revoked token');
      } else {
        principal = (await this.basic(header)) ?? null;
        if (!principal) throw new RegistryError('UNAUTHORIZED', 'send Basic <principal>:<API token>, a Bearer API token, or nothing (anonymous)');
      }
    }
    const access: RegistryAccessClaim[] = [];
    for (const scope of parseScopes(request.query.scope)) {
      if (scope.type !== 'repository' || !isRepositoryName(scope.name)) continue;
      const wanted = new Set(scope.actions.flatMap((a) => (a === '*' ? ORDER : ORDER.includes(a as RepositoryAction) ? [a as RepositoryAction] : [])));
      const allowed = await this.allowed({ principal, scope: null }, scope.name);
      access.push({ type: 'repository', name: scope.name, actions: ORDER.filter((a) => wanted.has(a) && allowed.has(a)) });
    }
    const now = Math.floor(Date.now() / 1000);
    const token = signRegistryToken(
      { iss: REGISTRY_SERVICE, aud: REGISTRY_SERVICE, sub: principal?.name ?? null, iat: now, nbf: now, exp: now + REGISTRY_TOKEN_SECONDS, jti: newTokenId(), access },
      this.tokenKey.key,
    );
    return { token, expiresIn: REGISTRY_TOKEN_SECONDS, issuedAt: new Date(now * 1000).toISOString(), access };
  }

  /** What the caller may do to `name` now: grants ∩ token scope, plus pull when the repository is public. */
  async allowed(caller: RegistryCaller, name: string): Promise<Set<RepositoryAction>> {
    const granted = caller.principal ? allowedActions(caller.principal.grants, name) : new Set<RepositoryAction>();
    const scoped = caller.scope ? new Set([...granted].filter((a) => caller.scope!.get(name)?.has(a))) : granted;
    if (!scoped.has('pull') && (await this.isPublic(name))) scoped.add('pull');
    return scoped;
  }

  /** A node administrator (grant admin:*) reads every blob of the node; others only what a repository holds. */
  isAdmin(caller: RegistryCaller): boolean {
    return caller.principal !== null && isNodeAdmin(caller.principal.grants);
  }

  /** Reads need pull. Without it a private repository and a missing one get the same 401. */
  async requireRead(caller: RegistryCaller, name: string): Promise<void> {
    if (!(await this.allowed(caller, name)).has('pull')) throw new RegistryError('UNAUTHORIZED', 'authentication required', { name, action: 'pull' });
  }

  /** Push (uploads, manifests, untag by tag): 401 when a new token could help, 403 DENIED when no grant covers it. */
  async requirePush(caller: RegistryCaller, name: string): Promise<Principal> {
    return this.require(caller, name, 'push');
  }

  /** Deleting images and blobs needs admin on the repository (the token spec's `delete` action). */
  async requireDelete(caller: RegistryCaller, name: string): Promise<Principal> {
    return this.require(caller, name, 'delete');
  }

  async isPublic(name: string): Promise<boolean> {
    await this.reads.catchUpToHead();
    return (await this.reads.engine.getRepository(name))?.visibility === 'public';
  }

  private async require(caller: RegistryCaller, name: string, action: RepositoryAction): Promise<Principal> {
    if (!caller.principal) throw new RegistryError('UNAUTHORIZED', `authentication required to ${action}`, { name, action });
    if ((await this.allowed(caller, name)).has(action)) return caller.principal;
    if (caller.scope && allowedActions(caller.principal.grants, name).has(action)) {
      // The grant is there, the token just does not carry it: the client should fetch one that does.
      throw new RegistryError('UNAUTHORIZED', `this token does not carry ${action} on ${name}`, { name, action });
    }
    throw new RegistryError('DENIED', `${caller.principal.name} may not ${action} ${name}: no grant covers it`, { name, action });
  }
}
