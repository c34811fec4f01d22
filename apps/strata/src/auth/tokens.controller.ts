import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Req } from '@nestjs/common';
import type { CommandReply, ListReply, PrincipalView, TokenCreatedReply } from '@strata/api';
import { notFound } from '@strata/domain';
import type { Request } from 'express';
import { commandMetaFrom } from '../commands/command-meta.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ApiError } from '../http/api-error.js';
import { Principals } from './principals.service.js';

const grantsOf = (body: unknown): string[] => {
  const grants = (body as { grants?: unknown } | undefined)?.grants ?? [];
  if (!Array.isArray(grants) || grants.some((g) => typeof g !== 'string')) {
    throw new ApiError(400, 'VALIDATION_FAILED', 'grants must be a list of "pull|push|admin:<repository pattern>"');
  }
  return grants as string[];
};

/**
 * Principals and their API tokens (admin only: the guard lets no one else here). A token is shown once,
 * in the answer to its creation; the node keeps only its salted hash. Creating, changing grants and
 * revoking are events (`principal-<name>`), so who got which access, when and from whom is audited.
 */
@Controller('tokens')
export class TokensController {
  constructor(
    private readonly principals: Principals,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  @Get()
  async list(): Promise<ListReply<PrincipalView>> {
    const items = await this.principals.list();
    return { items, position: 0 };
  }

  @Post()
  async create(@Req() request: Request, @Body() body: unknown): Promise<TokenCreatedReply> {
    const name = (body as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string') throw new ApiError(400, 'VALIDATION_FAILED', 'name is required');
    const { token, reply } = await this.principals.create(commandMetaFrom(request, this.config.nodeId), name, grantsOf(body));
    const principal = (await this.principals.list()).find((p) => p.name === name)!;
    return { principal, token, position: reply.position };
  }

  @Put(':name/grants')
  grants(@Req() request: Request, @Param('name') name: string, @Body() body: unknown): Promise<CommandReply> {
    return this.principals.changeGrants(commandMetaFrom(request, this.config.nodeId), name, grantsOf(body));
  }

  @Delete(':name')
  @HttpCode(200)
  revoke(@Req() request: Request, @Param('name') name: string): Promise<CommandReply> {
    if (name === 'admin') throw notFound('PRINCIPAL_NOT_FOUND', 'the built-in admin cannot be revoked: change or remove <data-dir>/admin.token instead', { name });
    return this.principals.revoke(commandMetaFrom(request, this.config.nodeId), name);
  }
}
