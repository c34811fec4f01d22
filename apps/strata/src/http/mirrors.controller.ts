import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import type { AddMirrorRequest, CommandReply, ListReply, MirrorAddedReply, MirrorView } from '@strata/api';
import type { Request } from 'express';
import { commandMetaFrom } from '../commands/command-meta.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { MirrorService } from '../mirrors/mirror.service.js';

/**
 * Mirrors of other nodes' repositories (administrators only: api-grants.ts lists no rule for these
 * routes). Adding and removing are events (`mirror-<id>`); the credentials given here are kept in
 * `<dataDir>/mirror-credentials.json` (0600) and never appear in an answer or an event.
 */
@Controller('mirrors')
export class MirrorsController {
  constructor(
    private readonly mirrors: MirrorService,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  @Get()
  list(): ListReply<MirrorView> {
    return { items: this.mirrors.list(), position: 0 };
  }

  @Get(':id')
  get(@Param('id') id: string): MirrorView {
    return this.mirrors.get(id);
  }

  @Post()
  async add(@Req() request: Request, @Body() body: AddMirrorRequest): Promise<MirrorAddedReply> {
    const { mirror, reply } = await this.mirrors.add(commandMetaFrom(request, this.config.nodeId), body);
    return { mirror, position: reply.position };
  }

  @Delete(':id')
  @HttpCode(200)
  remove(@Req() request: Request, @Param('id') id: string): Promise<CommandReply> {
    return this.mirrors.remove(commandMetaFrom(request, this.config.nodeId), id);
  }
}
