import type { Projector } from './projector.js';
import { asRepositoryEvent } from './repository-event.js';

/** Current state of repositories and their tags (tables `repositories`, `tags`). */
export const repositoriesProjector: Projector = {
  name: 'repositories',
  version: 1,
  tables: ['repositories', 'tags'],
  apply(envelope, writer) {
    const event = asRepositoryEvent(envelope);
    const at = event.occurredAt;
    const position = event.position;
    switch (event.type) {
      case 'RepositoryCreated':
        writer.createRepository({ name: event.data.name, visibility: event.data.visibility, at, position });
        return;
      case 'ImageTagged':
        writer.setTag({ repository: event.data.name, tag: event.data.tag, digest: event.data.digest, at, by: event.actor, position });
        writer.touchRepository(event.data.name, at, position);
        return;
      case 'ImageUntagged':
        writer.removeTag(event.data.name, event.data.tag);
        writer.touchRepository(event.data.name, at, position);
        return;
      case 'RepositoryVisibilityChanged':
        writer.setRepositoryVisibility(event.data.name, event.data.visibility, at, position);
        return;
      case 'RepositoryDeleted':
        writer.deleteRepository(event.data.name);
        return;
    }
  },
};
