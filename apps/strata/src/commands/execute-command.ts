import { Command } from '@nestjs/cqrs';
import type { CommandReply } from '@strata/api';
import type { CommandMeta } from '@strata/domain';

/** The one CommandBus message: a named command's input plus who/when/why. */
export class ExecuteCommand extends Command<CommandReply> {
  constructor(
    readonly name: string,
    readonly input: unknown,
    readonly meta: CommandMeta,
  ) {
    super();
  }
}

/** Published on the EventBus for every appended event, after its append is durable. */
export class EventAppended {
  constructor(readonly event: import('@strata/domain').EventEnvelope) {}
}
