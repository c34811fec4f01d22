import { Inject, Logger } from '@nestjs/common';
import type { ContentStore } from '@strata/layers';
import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import type { CommandReply } from '@strata/api';
import type { EventEnvelope } from '@strata/domain';
import { ConcurrencyError, EVENT_STORE, type EventStore } from '@strata/eventstore';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from '../http/api-error.js';
import { Metrics } from '../metrics/metrics.js';
import { CONTENT_STORE } from '../images/layer-tokens.js';
import { ImageResolver } from '../images/image-resolver.js';
import { ReadModels } from '../projections/read-models.service.js';
import { AggregateStates, type FoldedState } from './aggregate-states.js';
import { takeFresh } from './command-meta.js';
import { COMMAND_CATALOG, type CommandContext, type CommandSpec } from './command-catalog.js';
import { proposeEvents } from './envelope-factory.js';
import { EventAppended, ExecuteCommand } from './execute-command.js';

/** A state to decide on: folded from the stream's events 1..version; position of the last (0 when not read). */
type LoadedState = FoldedState & { position: number };

/** How often a command is decided again after losing a race for its stream, before answering 409. */
export const MAX_ATTEMPTS = 8;

/**
 * Load → decide → append, for every aggregate. The state comes from the cache of folded states when it
 * has the stream (AggregateStates), else from reading and folding the stream. A lost race
 * (ConcurrencyError) is retried against the new state a bounded number of times; a commandId seen
 * before answers with its first result. Local event handlers hear of the events only once the append
 * is durable.
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
    private readonly states: AggregateStates = new AggregateStates(),
  ) {
    this.context = {
      store,
      readState: (streamId, decider) => this.readState(streamId, decider) as Promise<never>,
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
    // Idempotency is not looked up first: the append checks the commandId itself, before its expected
    // version, and answers a command it has seen with the first result. Only a command that fails or
    // decides nothing before it gets there is looked up (deciding again may refuse what the first
    // attempt did, e.g. CreateRepository → REPOSITORY_EXISTS): docs/DECISIONS.md, "Idempotency".
    let command: unknown;
    let streamId: string;
    try {
      command = await spec.prepare(spec.input.parse(input), this.context);
      streamId = spec.streamId(command);
    } catch (error) {
      return this.answeredBefore(meta.commandId, error);
    }
    const decider = spec.decider;
    // An id minted for this command has never been appended: its first append skips the lookup.
    let fresh = takeFresh(meta.commandId);
    // A cached state is tried once; anything it cannot carry through (a refusal, nothing to do, a
    // conflict: it may be stale) is decided again on a fresh read, without counting as an attempt.
    let fromCache = true;
    for (let attempt = 1; ; ) {
      const cached = fromCache ? this.states.get(streamId, decider) : undefined;
      const loaded: LoadedState = cached ? { version: cached.version, state: cached.state, position: 0 } : await this.load(streamId, decider);
      let decided: ReturnType<typeof decider.decide>;
      try {
        decided = decider.decide(command, loaded.state);
      } catch (error) {
        if (cached) {
          fromCache = false;
          continue;
        }
        return this.answeredBefore(meta.commandId, error);
      }
      if (decided.length === 0) {
        if (cached) {
          fromCache = false;
          continue;
        }
        const seen = await this.store.readCommand(meta.commandId);
        if (seen.length > 0) return reply(meta.commandId, seen, true);
        this.metrics.commands.inc({ command: name, outcome: 'unchanged' });
        return { commandId: meta.commandId, streamId, version: loaded.version, position: loaded.position, events: [], duplicate: false };
      }
      try {
        const result = await this.store.append(streamId, loaded.version === 0 ? 'no-stream' : loaded.version, proposeEvents(decided, meta), {
          commandId: meta.commandId,
          fresh,
        });
        this.metrics.commands.inc({ command: name, outcome: result.duplicate ? 'duplicate' : 'ok' });
        if (result.duplicate || result.events[0]?.version !== loaded.version + 1) this.states.delete(streamId);
        else this.states.record(streamId, decider, loaded, result.events);
        if (!result.duplicate) {
          this.metrics.eventsAppended.inc(result.events.length);
          this.eventBus.publishAll(result.events.map((e) => new EventAppended(e)));
        }
        return reply(meta.commandId, result.events, result.duplicate);
      } catch (error) {
        // Whatever happened, this process no longer knows the stream's tip (an unanswered append may
        // have landed), nor that the command id was never appended.
        this.states.delete(streamId);
        fresh = false;
        if (error instanceof ConcurrencyError && cached) {
          this.logger.debug?.({ msg: 'cached state was stale, deciding again on a fresh read', command: name, streamId });
          fromCache = false;
          continue;
        }
        if (!(error instanceof ConcurrencyError) || attempt >= MAX_ATTEMPTS) {
          this.metrics.commands.inc({ command: name, outcome: error instanceof ConcurrencyError ? 'conflict' : 'error' });
          throw error;
        }
        this.logger.debug?.({ msg: 'concurrency conflict, deciding again', command: name, streamId, attempt });
        await sleep(Math.random() * 5 * attempt); // jitter, so racing commands stop colliding
        attempt++;
        fromCache = false;
      }
    }
  }

  /**
   * Reads and folds the whole stream, and keeps the state for the next command. The state decided on
   * is the frozen one the cache keeps, as a cached state would be: a decider that changed its state
   * would fail here, loudly, rather than alter what later commands decide on.
   */
  private async load(streamId: string, decider: CommandSpec['decider']): Promise<LoadedState> {
    const history = await this.store.readStream(streamId);
    const { version, state } = this.states.record(streamId, decider, undefined, history);
    return { version, state, position: history.length > 0 ? history[history.length - 1].position : 0 };
  }

  /**
   * The stream's state as of now, for a check against another aggregate in prepare(): nothing is
   * appended to that stream, so no expected version would catch a stale state; the events after the
   * cached version are read (usually none: an index lookup) and folded in.
   */
  private async readState(streamId: string, decider: CommandSpec['decider']): Promise<unknown> {
    const cached = this.states.get(streamId, decider);
    if (!cached) return (await this.load(streamId, decider)).state;
    const newer = await this.store.readStream(streamId, { afterVersion: cached.version });
    return newer.length === 0 ? cached.state : this.states.record(streamId, decider, cached, newer).state;
  }

  /** A command that failed before its append: if its commandId was already appended, its first result; else the error. */
  private async answeredBefore(commandId: string, error: unknown): Promise<CommandReply> {
    const seen = await this.store.readCommand(commandId);
    if (seen.length > 0) return reply(commandId, seen, true);
    throw error;
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
