import { Inject, Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { CommandReply } from '@strata/api';
import type { Request } from 'express';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { commandMetaFrom } from './command-meta.js';
import { ExecuteCommand } from './execute-command.js';

/** What every HTTP route that changes something calls: metadata from the request, then the CommandBus. */
@Injectable()
export class CommandGateway {
  constructor(
    private readonly commandBus: CommandBus,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  execute(request: Request, name: string, input: unknown): Promise<CommandReply> {
    return this.commandBus.execute(new ExecuteCommand(name, input, commandMetaFrom(request, this.config.nodeId)));
  }
}
