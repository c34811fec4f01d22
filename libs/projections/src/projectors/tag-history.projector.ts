import type { Projector, TagMoveRow } from './projector.js';
import { asRepositoryEvent, type RepositoryEnvelope } from './repository-event.js';

/** One row of tag_history for an event (one object literal: this runs for nearly every event of a rebuild). */
const move = (event: RepositoryEnvelope, repository: string, tag: string, from: string | null, to: string | null): TagMoveRow => ({
  repository,
  tag,
  from,
  to,
  at: event.occurredAt,
  by: event.actor,
  position: event.position,
  eventType: event.type,
});

/** Every set, move and removal of a tag (table `tag_history`): "what did app:latest point to at 10:32?". */
export const tagHistoryProjector: Projector = {
  name: 'tag-history',
  version: 1,
  tables: ['tag_history'],
  apply(envelope, writer) {
    const event = asRepositoryEvent(envelope);
    switch (event.type) {
      case 'ImageTagged':
        writer.recordTagMove(move(event, event.data.name, event.data.tag, event.data.previousDigest, event.data.digest));
        return;
      case 'ImageUntagged':
        writer.recordTagMove(move(event, event.data.name, event.data.tag, event.data.previousDigest, null));
        return;
      case 'RepositoryDeleted':
        // A forced delete removes its tags: each removal is a move to nothing.
        for (const [tag, digest] of Object.entries(event.data.tags)) writer.recordTagMove(move(event, event.data.name, tag, digest, null));
        return;
    }
  },
};
