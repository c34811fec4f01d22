import { Body, Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { CommandReply } from '@strata/api';
import type { Request } from 'express';
import { z } from 'zod';
import { COMMAND_CATALOG } from '../commands/command-catalog.js';
import { CommandGateway } from '../commands/command-gateway.js';
import { ApiError } from './api-error.js';

/** Any command by name, the same catalog the REST routes and the NATS gateway use. */
@Controller('commands')
export class CommandsController {
  constructor(private readonly commands: CommandGateway) {}

  @Get()
  list() {
    return {
      items: Object.values(COMMAND_CATALOG).filter((s) => !s.internal).map((s) => ({ name: s.name, summary: s.summary, input: z.toJSONSchema(s.input, { io: 'input', unrepresentable: 'any' }) })),
    };
  }

  @Post(':name')
  @HttpCode(200)
  execute(@Req() request: Request, @Param('name') name: string, @Body() body: unknown): Promise<CommandReply> {
    if (COMMAND_CATALOG[name]?.internal) {
      throw new ApiError(403, 'INTERNAL_COMMAND', `${name} is recorded by the node itself (import, load, commit, pull), not sent directly`);
    }
    return this.commands.execute(request, name, body ?? {});
  }
}
