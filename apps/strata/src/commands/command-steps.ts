import { Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { CommandReply } from '@strata/api';
import type { CommandMeta } from '@strata/domain';
import { ExecuteCommand } from './execute-command.js';

/**
 * Runs the commands one image operation is made of (import = CreateImage + TagImage; rmi --force =
 * UntagImage… + RemoveImage). Each step's commandId is derived from the request's, so a retried
 * request (same Idempotency-Key) finds its finished steps in the log and does only what is left.
 */
@Injectable()
export class CommandSteps {
  constructor(private readonly commandBus: CommandBus) {}

  run(meta: CommandMeta, step: string, name: string, input: unknown): Promise<CommandReply> {
    const commandId = `${meta.commandId}/${step}`.slice(0, 200);
    return this.commandBus.execute(new ExecuteCommand(name, input, { ...meta, commandId, causationId: meta.commandId }));
  }
}

/** The position of the last event a set of steps appended (0 if none): what a reply's minPosition is. */
export const lastPosition = (replies: readonly CommandReply[]): number => Math.max(0, ...replies.map((r) => r.position));
