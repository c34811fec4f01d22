import { Injectable } from '@nestjs/common';
import { RegistryError } from '@strata/registry';
import type { Request } from 'express';
import type { Principal } from '../auth/token-store.js';
import { TokenStore } from '../auth/token-store.js';
import { ReadModels } from '../projections/read-models.service.js';

/** Who is asking: a principal (bearer API token) or nobody (anonymous). */
export interface RegistryCaller {
  principal: Principal | null;
}

/**
 * The token the token endpoint hands to a client that sent no credentials: it grants exactly what
 * no token grants (public pulls). It exists because clients that were challenged always fetch a
 * token first, anonymous or not.
 */
export const ANONYMOUS_TOKEN = 'anonymous';

/**
 * Access to `/v2/`: anonymous callers may read (GET/HEAD) public repositories; everything else needs
 * a principal. Today every principal is the admin; per-repository grants (`strata token create
 * --grant`) come with the principals slice and will plug in here.
 */
@Injectable()
export class RegistryAccess {
  constructor(
    private readonly tokens: TokenStore,
    private readonly reads: ReadModels,
  ) {}

  /** A wrong token is refused outright, never downgraded to anonymous: the client meant to be someone. */
  authenticate(request: Request): RegistryCaller {
    const header = request.headers.authorization;
    if (!header) return { principal: null };
    const bearer = /^Bearer\s+(\S+)$/i.exec(header);
    if (!bearer) throw new RegistryError('UNAUTHORIZED', 'send "Authorization: Bearer <token>" (a Strata API token, or one from /v2/token)');
    if (bearer[1] === ANONYMOUS_TOKEN) return { principal: null };
    const principal = this.tokens.authenticate(bearer[1]!);
    if (!principal) throw new RegistryError('UNAUTHORIZED', 'unknown or revoked token');
    return { principal };
  }

  /** For the token endpoint: `Basic <user>:<API token>` names a principal; no header is anonymous. */
  basicPrincipal(request: Request): { principal: Principal | null; token: string | null } {
    const header = request.headers.authorization;
    if (!header) return { principal: null, token: null };
    const basic = /^Basic\s+(\S+)$/i.exec(header);
    if (!basic) throw new RegistryError('UNAUTHORIZED', 'send Basic credentials: any user name, an API token as the password');
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const token = decoded.slice(decoded.indexOf(':') + 1);
    const principal = this.tokens.authenticate(token);
    if (!principal) throw new RegistryError('UNAUTHORIZED', 'unknown or revoked token');
    return { principal, token };
  }

  /**
   * Reads are open to anonymous callers on public repositories only. A private repository and a
   * missing one get the same 401, so an anonymous caller cannot learn which names exist.
   */
  async requireRead(caller: RegistryCaller, name: string): Promise<void> {
    if (caller.principal) return;
    await this.reads.catchUpToHead();
    const repository = await this.reads.engine.getRepository(name);
    if (repository?.visibility !== 'public') throw new RegistryError('UNAUTHORIZED', 'authentication required');
  }

  requireWrite(caller: RegistryCaller): Principal {
    if (!caller.principal) throw new RegistryError('UNAUTHORIZED', 'authentication required to push');
    return caller.principal;
  }
}
