import type { Projector } from './projector.js';
import { asRepositoryEvent } from './repository-event.js';

/** Every set, move and removal of a tag (table `tag_history`): "what did app:latest point to at 10:32?". */
export const tagHistoryProjector: Projector = {
  name: 'tag-history',
  version: 1,
  tables: ['tag_history'],
  apply(envelope, writer) {
    const event = asRepositoryEvent(envelope);
    const common = { at: event.occurredAt, by: event.actor, position: event.position, eventType: event.type };
    switch (event.type) {
      case 'ImageTagged':
        writer.recordTagMove({ ...common, repository: event.data.name, tag: event.data.tag, from: event.data.previousDigest, to: event.data.digest });
        return;
      case 'ImageUntagged':
        writer.recordTagMove({ ...common, repository: event.data.name, tag: event.data.tag, from: event.data.previousDigest, to: null });
        return;
      case 'RepositoryDeleted':
        // A forced delete removes its tags: each removal is a move to nothing.
        for (const [tag, digest] of Object.entries(event.data.tags)) {
          writer.recordTagMove({ ...common, repository: event.data.name, tag, from: digest, to: null });
        }
        return;
    }
  },
};
