import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { allows, isNodeAdmin, parseRepoTag } from '@strata/domain';
import type { Request } from 'express';
import { ApiError } from '../http/api-error.js';
import { ReadModels } from '../projections/read-models.service.js';
import { ROUTE_GRANTS } from './api-grants.js';
import { Principals } from './principals.service.js';
import type { Principal } from './token-store.js';

const PUBLIC = 'strata:public';
/** Marks a route that answers without a token (/healthz; /v2/, which does its own access control). */
export const Public = () => SetMetadata(PUBLIC, true);

export type AuthenticatedRequest = Request & { principal: Principal };

/**
 * Every request has an actor: the principal behind its bearer token. Node administrators (`admin:*`)
 * may use every route; other principals only the repository routes their grants cover (api-grants.ts).
 * A repository the principal may not even pull answers 404 REPOSITORY_NOT_FOUND, exactly like a
 * missing one, so grants never reveal which names exist.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly principals: Principals,
    private readonly reads: ReadModels,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      throw new ApiError(401, 'UNAUTHORIZED', 'missing bearer token: send "Authorization: Bearer <token>" (the admin token is in <data-dir>/admin.token)');
    }
    const principal = await this.principals.authenticate(match[1]!);
    if (!principal) throw new ApiError(401, 'UNAUTHORIZED', 'unknown or revoked token');
    request.principal = principal;
    if (isNodeAdmin(principal.grants)) return true;

    const route = `${context.getClass().name}.${context.getHandler().name}`;
    const rule = ROUTE_GRANTS[route];
    if (rule === 'any-principal') return true;
    if (!rule) throw new ApiError(403, 'FORBIDDEN', `${request.method} ${request.path} is for node administrators (a grant admin:*); ${principal.name} may use /v2/ and the repository routes its grants cover`);
    const body = request.body as Record<string, unknown> | undefined;
    const name = rule.from === 'param' ? request.params['name'] : body?.['name'];
    if (typeof name !== 'string') throw new ApiError(400, 'VALIDATION_FAILED', 'a repository name is required');
    if (rule.action === 'pull' && !allows(principal.grants, name, 'pull') && (await this.isPublic(name))) return true;
    if (!allows(principal.grants, name, 'pull') && rule.from === 'param') {
      throw new ApiError(404, 'REPOSITORY_NOT_FOUND', `repository "${name}" does not exist`, { name });
    }
    if (!allows(principal.grants, name, rule.action)) {
      throw new ApiError(403, 'FORBIDDEN', `${principal.name} may not ${rule.action} ${name}: no grant covers it`, { name, action: rule.action });
    }
    if (route === 'RepositoriesController.tagImage') await this.checkTagSource(principal, body);
    return true;
  }

  private async isPublic(name: string): Promise<boolean> {
    await this.reads.catchUpToHead();
    return (await this.reads.engine.getRepository(name))?.visibility === 'public';
  }

  /**
   * A tag may point only at what the principal can already read: `source` (another tag, needing pull
   * on its repository, or a public one). A bare digest or image reference could name an image of a private repository
   * the principal cannot pull, and tagging it here would let it pull that image: administrators only.
   */
  private async checkTagSource(principal: Principal, body: Record<string, unknown> | undefined): Promise<void> {
    const source = body?.['source'];
    if (typeof source !== 'string') {
      throw new ApiError(403, 'FORBIDDEN', 'only administrators may tag by digest or image reference; give {"source": "repo:tag"} of a repository you may pull');
    }
    const { name } = parseRepoTag(source);
    if (!allows(principal.grants, name, 'pull') && !(await this.isPublic(name))) throw new ApiError(404, 'TAG_NOT_FOUND', `source tag "${source}" does not exist`, { source });
  }
}
