import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiError } from '../http/api-error.js';
import type { Principal } from './token-store.js';
import { TokenStore } from './token-store.js';

const PUBLIC = 'strata:public';
/** Marks a route that answers without a token (only /healthz). */
export const Public = () => SetMetadata(PUBLIC, true);

export type AuthenticatedRequest = Request & { principal: Principal };

/** Every request has an actor: the principal behind its bearer token. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenStore,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      throw new ApiError(401, 'UNAUTHORIZED', 'missing bearer token: send "Authorization: Bearer <token>" (the admin token is in <data-dir>/admin.token)');
    }
    const principal = this.tokens.authenticate(match[1]);
    if (!principal) throw new ApiError(401, 'UNAUTHORIZED', 'unknown or revoked token');
    request.principal = principal;
    return true;
  }
}
