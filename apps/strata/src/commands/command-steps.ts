import { Inject, Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { CommandReply } from '@strata/api';
import type { CommandMeta } from '@strata/domain';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import { ExecuteCommand } from './execute-command.js';

/** The command id of one step of a command: `<commandId>/<step>`. */
export const stepCommandId = (meta: CommandMeta, step: string) => `${meta.commandId}/${step}`.slice(0, 200);

/**
 * Runs the commands one image operation is made of (import = CreateImage + TagImage; rmi --force =
 * UntagImage… + RemoveImage). Each step's commandId is derived from the request's, so a retried
 * request (same Idempotency-Key) finds its finished steps in the log and does only what is left.
 */
@Injectable()
export class CommandSteps {
  constructor(
    private readonly commandBus: CommandBus,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  run(meta: CommandMeta, step: string, name: string, input: unknown): Promise<CommandReply> {
    const commandId = stepCommandId(meta, step);
    return this.commandBus.execute(new ExecuteCommand(name, input, { ...meta, commandId, causationId: meta.commandId }));
  }

  /**
   * What a step recorded, if an earlier run of the same command got that far (null: not recorded, or
   * it recorded no event). For steps whose side effect must not be repeated (a process launched, a
   * layer prepared) before the step itself is run again.
   */
  async done(meta: CommandMeta, step: string): Promise<CommandReply | null> {
    const commandId = stepCommandId(meta, step);
    const events = await this.store.readCommand(commandId);
    const last = events.at(-1);
    if (!last) return null;
    return { commandId, streamId: last.streamId, version: last.version, position: last.position, events: events.map((e) => e.type), duplicate: true };
  }
}

/** The position of the last event a set of steps appended (0 if none): what a reply's minPosition is. */
export const lastPosition = (replies: readonly CommandReply[]): number => Math.max(0, ...replies.map((r) => r.position));
