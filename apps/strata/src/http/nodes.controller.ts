import { Controller, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { CommandReply, ListReply, NodeView } from '@strata/api';
import type { Request } from 'express';
import { Membership } from '../cluster/membership.service.js';
import { commandMetaFrom } from '../commands/command-meta.js';
import { ExecuteCommand } from '../commands/execute-command.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ReadModels, type ReadOptions } from '../projections/read-models.service.js';
import { ApiError } from './api-error.js';

/** The cluster's nodes (`strata node ls`, `strata node drain`): from the log and the heartbeat bucket. */
@Controller('nodes')
export class NodesController {
  constructor(
    private readonly membership: Membership,
    private readonly reads: ReadModels,
    private readonly commandBus: CommandBus,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  @Get()
  async list(@Req() request: Request & { query: ReadOptions }): Promise<ListReply<NodeView>> {
    const q = request.query;
    const { value, position } = await this.reads.read(q, (m) => this.membership.nodes(m));
    return { items: value, position };
  }

  @Post(':id/drain')
  @HttpCode(200)
  drain(@Req() request: Request, @Param('id') id: string): Promise<CommandReply> {
    if (!this.membership.enabled) throw new ApiError(409, 'NOT_CLUSTERED', `this node (${this.config.nodeId}) runs alone, without NATS: there is no cluster to drain a node of`);
    return this.commandBus.execute(new ExecuteCommand('DrainNode', { nodeId: id }, commandMetaFrom(request, this.config.nodeId)));
  }
}
