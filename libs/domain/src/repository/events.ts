import type { Visibility } from './names.js';

/** Current schema versions of the repository events. Older versions are upcast on read. */
export const REPOSITORY_SCHEMA = {
  RepositoryCreated: 2,
  ImageTagged: 1,
  ImageUntagged: 1,
  RepositoryVisibilityChanged: 1,
  RepositoryDeleted: 1,
} as const;

export type RepositoryEvent =
  | { type: 'RepositoryCreated'; schemaVersion: 2; data: { name: string; visibility: Visibility } }
  | {
      type: 'ImageTagged';
      schemaVersion: 1;
      /** previousDigest is null for a new tag, the old target for a move. */
      data: { name: string; tag: string; digest: string; previousDigest: string | null };
    }
  | { type: 'ImageUntagged'; schemaVersion: 1; data: { name: string; tag: string; previousDigest: string } }
  | {
      type: 'RepositoryVisibilityChanged';
      schemaVersion: 1;
      data: { name: string; visibility: Visibility; previousVisibility: Visibility };
    }
  | { type: 'RepositoryDeleted'; schemaVersion: 1; data: { name: string; tags: Record<string, string> } };

export type RepositoryEventType = RepositoryEvent['type'];
export const REPOSITORY_EVENT_TYPES = Object.keys(REPOSITORY_SCHEMA) as RepositoryEventType[];
