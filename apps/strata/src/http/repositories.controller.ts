import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Req } from '@nestjs/common';
import type { CommandReply, ListReply, RepositoryView, TagMoveView, TagView } from '@strata/api';
import { notFound } from '@strata/domain';
import type { Request } from 'express';
import { CommandGateway } from '../commands/command-gateway.js';
import { ReadModels, type ReadOptions } from '../projections/read-models.service.js';
import { ApiError } from './api-error.js';
import { parseFlag } from './query-flags.js';

const asObject = (body: unknown): Record<string, unknown> => {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'VALIDATION_FAILED', 'request body must be a JSON object');
  }
  return body as Record<string, unknown>;
};


/** Repositories and their tags. Names contain '/', so they travel URL-encoded in paths. */
@Controller('repositories')
export class RepositoriesController {
  constructor(
    private readonly commands: CommandGateway,
    private readonly reads: ReadModels,
  ) {}

  @Post()
  create(@Req() request: Request, @Body() body: unknown): Promise<CommandReply> {
    return this.commands.execute(request, 'CreateRepository', asObject(body));
  }

  @Get()
  async list(@Query() q: ReadOptions): Promise<ListReply<RepositoryView>> {
    const { value, position } = await this.reads.read(q, (m) => m.listRepositories());
    return { items: value, position };
  }

  @Get(':name')
  async get(@Param('name') name: string, @Query() q: ReadOptions): Promise<RepositoryView & { tags: TagView[] }> {
    const { value } = await this.reads.read(q, async (m) => {
      const repository = await m.getRepository(name);
      return repository && { ...repository, tags: await m.listTags(name) };
    });
    if (!value) throw notFound('REPOSITORY_NOT_FOUND', `repository "${name}" does not exist`, { name });
    return value;
  }

  @Delete(':name')
  @HttpCode(200)
  remove(@Req() request: Request, @Param('name') name: string, @Query('force') force?: string): Promise<CommandReply> {
    return this.commands.execute(request, 'DeleteRepository', { name, force: parseFlag(force, 'force') });
  }

  @Put(':name/visibility')
  visibility(@Req() request: Request, @Param('name') name: string, @Body() body: unknown): Promise<CommandReply> {
    return this.commands.execute(request, 'SetRepositoryVisibility', { ...asObject(body), name });
  }

  @Get(':name/tags')
  async tags(@Param('name') name: string, @Query() q: ReadOptions): Promise<ListReply<TagView>> {
    const { value, position } = await this.reads.read(q, async (m) => ((await m.getRepository(name)) ? m.listTags(name) : null));
    if (!value) throw notFound('REPOSITORY_NOT_FOUND', `repository "${name}" does not exist`, { name });
    return { items: value, position };
  }

  @Get(':name/tags/:tag')
  async tag(@Param('name') name: string, @Param('tag') tag: string, @Query() q: ReadOptions): Promise<TagView> {
    const { value } = await this.reads.read(q, async (m) => (await m.listTags(name)).find((t) => t.tag === tag));
    if (!value) throw notFound('TAG_NOT_FOUND', `tag "${name}:${tag}" does not exist`, { name, tag });
    return value;
  }

  @Put(':name/tags/:tag')
  tagImage(@Req() request: Request, @Param('name') name: string, @Param('tag') tag: string, @Body() body: unknown): Promise<CommandReply> {
    return this.commands.execute(request, 'TagImage', { ...asObject(body), name, tag });
  }

  @Delete(':name/tags/:tag')
  @HttpCode(200)
  untag(@Req() request: Request, @Param('name') name: string, @Param('tag') tag: string): Promise<CommandReply> {
    return this.commands.execute(request, 'UntagImage', { name, tag });
  }

  @Get(':name/history')
  async history(
    @Param('name') name: string,
    @Query() q: ReadOptions & { tag?: string },
  ): Promise<ListReply<TagMoveView>> {
    const { value, position } = await this.reads.read(q, (m) => m.tagHistory(name, q.tag));
    return { items: value, position };
  }
}
