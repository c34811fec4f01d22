import type { EventEnvelope, RepositoryEvent } from '@strata/domain';

/** An envelope seen as a repository event, so `switch (event.type)` narrows `data`. */
export type RepositoryEnvelope = Omit<EventEnvelope, 'type' | 'schemaVersion' | 'data'> & RepositoryEvent;

export const asRepositoryEvent = (event: EventEnvelope) => event as unknown as RepositoryEnvelope;
