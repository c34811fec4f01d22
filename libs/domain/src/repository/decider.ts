import type { Decider } from '../shared/decider.js';
import { assertDigest } from '../shared/digest.js';
import { conflict, notFound } from '../shared/errors.js';
import type { RepositoryCommand } from './commands.js';
import type { RepositoryEvent } from './events.js';
import { assertRepositoryName, assertTag, assertVisibility } from './names.js';
import { initialRepositoryState, type RepositoryState } from './state.js';

export const REPOSITORY_CATEGORY = 'repository';

/** A repository's stream id is its name: the stream itself is the name's reservation (see docs/DECISIONS.md). */
export const repositoryStreamId = (name: string) => `${REPOSITORY_CATEGORY}-${name}`;

function requireActive(state: RepositoryState, name: string): void {
  if (state.status !== 'active') {
    throw notFound('REPOSITORY_NOT_FOUND', `repository "${name}" does not exist`, { name });
  }
}

export function decideRepository(command: RepositoryCommand, state: RepositoryState): RepositoryEvent[] {
  const name = assertRepositoryName(command.name);
  switch (command.type) {
    case 'CreateRepository': {
      const visibility = assertVisibility(command.visibility);
      if (state.status === 'active') {
        throw conflict('REPOSITORY_EXISTS', `repository "${name}" already exists`, { name });
      }
      return [{ type: 'RepositoryCreated', schemaVersion: 2, data: { name, visibility } }];
    }
    case 'TagImage': {
      const tag = assertTag(command.tag);
      const digest = assertDigest(command.digest);
      const previousDigest = state.status === 'active' ? (state.tags[tag] ?? null) : null;
      if (previousDigest === digest) return []; // already there: tagging is idempotent, as in Docker
      const tagged: RepositoryEvent = { type: 'ImageTagged', schemaVersion: 1, data: { name, tag, digest, previousDigest } };
      if (state.status === 'active') return [tagged];
      return [{ type: 'RepositoryCreated', schemaVersion: 2, data: { name, visibility: 'private' } }, tagged];
    }
    case 'UntagImage': {
      const tag = assertTag(command.tag);
      requireActive(state, name);
      const previousDigest = state.tags[tag];
      if (previousDigest === undefined) {
        throw notFound('TAG_NOT_FOUND', `tag "${name}:${tag}" does not exist`, { name, tag });
      }
      return [{ type: 'ImageUntagged', schemaVersion: 1, data: { name, tag, previousDigest } }];
    }
    case 'SetRepositoryVisibility': {
      const visibility = assertVisibility(command.visibility);
      requireActive(state, name);
      if (state.visibility === visibility) return [];
      return [
        {
          type: 'RepositoryVisibilityChanged',
          schemaVersion: 1,
          data: { name, visibility, previousVisibility: state.visibility ?? 'private' },
        },
      ];
    }
    case 'DeleteRepository': {
      requireActive(state, name);
      const tags = Object.keys(state.tags);
      if (tags.length > 0 && !command.force) {
        throw conflict(
          'REPOSITORY_NOT_EMPTY',
          `repository "${name}" still has ${tags.length} tag(s) (${tags.slice(0, 5).join(', ')}); untag them or delete with force`,
          { name, tags },
        );
      }
      return [{ type: 'RepositoryDeleted', schemaVersion: 1, data: { name, tags: { ...state.tags } } }];
    }
  }
}

export function evolveRepository(state: RepositoryState, event: RepositoryEvent): RepositoryState {
  switch (event.type) {
    case 'RepositoryCreated':
      return { status: 'active', name: event.data.name, visibility: event.data.visibility, tags: {} };
    case 'ImageTagged':
      return { ...state, tags: { ...state.tags, [event.data.tag]: event.data.digest } };
    case 'ImageUntagged': {
      const { [event.data.tag]: _removed, ...tags } = state.tags;
      return { ...state, tags };
    }
    case 'RepositoryVisibilityChanged':
      return { ...state, visibility: event.data.visibility };
    case 'RepositoryDeleted':
      return { ...state, status: 'deleted', tags: {} };
    default:
      return state; // events of a newer node this one does not know yet change nothing it tracks
  }
}

export const repositoryDecider: Decider<RepositoryState, RepositoryCommand, RepositoryEvent> = {
  category: REPOSITORY_CATEGORY,
  initialState: initialRepositoryState,
  decide: decideRepository,
  evolve: evolveRepository,
};
