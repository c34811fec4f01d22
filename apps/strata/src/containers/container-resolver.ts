import { Inject, Injectable } from '@nestjs/common';
import type { ContainerView } from '@strata/api';
import { conflict, containerDecider, containerStreamId, fold, notFound, type ContainerState } from '@strata/domain';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import { ReadModels } from '../projections/read-models.service.js';

/**
 * Finds the container a user means: its id, its name, or a unique id prefix (like Docker). The read
 * models say which container; its state for a decision comes from the log itself.
 */
@Injectable()
export class ContainerResolver {
  constructor(
    private readonly reads: ReadModels,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  async resolve(ref: string): Promise<ContainerView> {
    if (!ref) throw notFound('CONTAINER_NOT_FOUND', 'name a container (its name, id or a unique id prefix)');
    await this.reads.catchUpToHead();
    const found = await this.reads.engine.findContainers(ref);
    const exact = found.find((c) => c.id === ref) ?? found.find((c) => c.name === ref);
    if (exact) return exact;
    if (found.length === 1) return found[0]!;
    if (found.length > 1) {
      throw conflict('AMBIGUOUS_CONTAINER_REFERENCE', `"${ref}" matches ${found.length} containers: give more of the id`, { matches: found.map((c) => c.id) });
    }
    throw notFound('CONTAINER_NOT_FOUND', `no such container: ${ref}`, { container: ref });
  }

  /** The container's state as the log has it now, with the stream's version. */
  async state(id: string): Promise<{ state: ContainerState; version: number }> {
    const events = await this.store.readStream(containerStreamId(id));
    return { state: fold(containerDecider, events as never[]), version: events.at(-1)?.version ?? 0 };
  }

  /** The view once the read models have seen `position`. */
  async viewAt(id: string, position: number): Promise<ContainerView> {
    const { value } = await this.reads.read({ minPosition: String(position) }, (m) => m.getContainer(id));
    if (!value) throw notFound('CONTAINER_NOT_FOUND', `container ${id} is gone`, { container: id });
    return value;
  }
}
