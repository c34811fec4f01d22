import { Inject, Logger } from '@nestjs/common';
import type { ContentStore } from '@strata/layers';
import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import type { CommandReply } from '@strata/api';
import { fold, type EventEnvelope } from '@strata/domain';
import { ConcurrencyError, EVENT_STORE, type EventStore } from '@strata/eventstore';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from '../http/api-error.js';
import { Metrics } from '../metrics/metrics.js';
import { CONTENT_STORE } from '../images/layer-tokens.js';
import { ImageResolver } from '../images/image-resolver.js';
import { ReadModels } from '../projections/read-models.service.js';
import { COMMAND_CATALOG, type CommandContext } from './command-catalog.js';
import { proposeEvents } from './envelope-factory.js';
import { EventAppended, ExecuteCommand } from './execute-command.js';

/** How often a command is decided again after losing a race for its stream, before answering 409. */
export const MAX_ATTEMPTS = 8;

/**
 * Load → decide → append, for every aggregate. A lost race (ConcurrencyError) is retried against the
 * new state a bounded number of times; a commandId seen before answers with its first result.
 * Local event handlers hear of the events only once the append is durable.
 */
@CommandHandler(ExecuteCommand)
export class ExecuteCommandHandler implements ICommandHandler<ExecuteCommand, CommandReply> {
  private readonly logger = new Logger('commands');
  private readonly context: CommandContext;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly eventBus: EventBus,
    private readonly metrics: Metrics,
    images: ImageResolver,
    @Inject(CONTENT_STORE) content: ContentStore,
    reads: ReadModels,
  ) {
    this.context = {
      store,
      resolveImage: (ref) => images.resolve(ref),
      hasBlob: (digest) => content.has(digest),
      containersUsingImage: async (digest) => {
        await reads.catchUpToHead();
        return reads.engine.containersUsingImage(digest);
      },
    };
  }

  async execute({ name, input, meta }: ExecuteCommand): Promise<CommandReply> {
    const spec = COMMAND_CATALOG[name];
    if (!spec) throw new ApiError(404, 'UNKNOWN_COMMAND', `unknown command "${name}"; known: ${Object.keys(COMMAND_CATALOG).join(', ')}`);
    const seen = await this.store.readCommand(meta.commandId);
    if (seen.length > 0) return reply(meta.commandId, seen, true);

    const command = await spec.prepare(spec.input.parse(input), this.context);
    const streamId = spec.streamId(command);
    for (let attempt = 1; ; attempt++) {
      const history = await this.store.readStream(streamId);
      const version = history.at(-1)?.version ?? 0;
      const state = fold(spec.decider, history as never[]);
      const decided = spec.decider.decide(command, state);
      if (decided.length === 0) {
        this.metrics.commands.inc({ command: name, outcome: 'unchanged' });
        return { commandId: meta.commandId, streamId, version, position: history.at(-1)?.position ?? 0, events: [], duplicate: false };
      }
      try {
        const result = await this.store.append(streamId, version === 0 ? 'no-stream' : version, proposeEvents(decided, meta), {
          commandId: meta.commandId,
        });
        this.metrics.commands.inc({ command: name, outcome: result.duplicate ? 'duplicate' : 'ok' });
        if (!result.duplicate) {
          this.metrics.eventsAppended.inc(result.events.length);
          this.eventBus.publishAll(result.events.map((e) => new EventAppended(e)));
        }
        return reply(meta.commandId, result.events, result.duplicate);
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= MAX_ATTEMPTS) {
          this.metrics.commands.inc({ command: name, outcome: error instanceof ConcurrencyError ? 'conflict' : 'error' });
          throw error;
        }
        this.logger.debug?.({ msg: 'concurrency conflict, deciding again', command: name, streamId, attempt });
        await sleep(Math.random() * 5 * attempt); // jitter, so racing commands stop colliding
      }
    }
  }
}

function reply(commandId: string, events: EventEnvelope[], duplicate: boolean): CommandReply {
  const last = events[events.length - 1];
  return {
    commandId,
    streamId: last.streamId,
    version: last.version,
    position: last.position,
    events: events.map((e) => e.type),
    duplicate,
  };
}
