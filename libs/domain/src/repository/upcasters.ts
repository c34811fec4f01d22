import type { Upcaster } from '../shared/upcasting.js';

/**
 * RepositoryCreated v1 (the first format) said `{name, isPublic}`; v2 says `{name, visibility}`
 * so a third visibility can be added without another boolean.
 */
export const repositoryUpcasters: Upcaster[] = [
  {
    type: 'RepositoryCreated',
    fromVersion: 1,
    upcast: (data) => {
      const { name, isPublic } = data as { name: string; isPublic: boolean };
      return { name, visibility: isPublic ? 'public' : 'private' };
    },
  },
];
