import { Inject, Injectable } from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';
import { imagePulled, pullStreamId, type CommandMeta } from '@strata/domain';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import { proposeEvents } from '../commands/envelope-factory.js';
import { EventAppended } from '../commands/execute-command.js';
import { Metrics } from '../metrics/metrics.js';

/**
 * Pulls: of a private repository an `ImagePulled {repository, digest, reference}` event with the
 * puller as actor, appended (durably) before the manifest is sent, so no private pull goes
 * unrecorded; of a public repository a metric only. The event goes to `pull-<repository>` without a
 * version check (see libs/domain/src/pull): pulls never contend with pushes for the repository stream.
 */
@Injectable()
export class PullAudit {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly eventBus: EventBus,
    private readonly metrics: Metrics,
  ) {}

  async recordPrivate(meta: CommandMeta, repository: string, digest: string, reference: string): Promise<void> {
    const result = await this.store.append(pullStreamId(repository), 'any', proposeEvents([imagePulled({ repository, digest, reference })], meta), {
      commandId: meta.commandId,
    });
    this.metrics.registryPulls.inc({ visibility: 'private' });
    if (!result.duplicate) {
      this.metrics.eventsAppended.inc(result.events.length);
      this.eventBus.publishAll(result.events.map((e) => new EventAppended(e)));
    }
  }

  countPublic(): void {
    this.metrics.registryPulls.inc({ visibility: 'public' });
  }
}
