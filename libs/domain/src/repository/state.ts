import type { Visibility } from './names.js';

export interface RepositoryState {
  /** `deleted` repositories may be created again; their stream (and history) continues. */
  status: 'none' | 'active' | 'deleted';
  name: string | null;
  visibility: Visibility | null;
  tags: Readonly<Record<string, string>>;
}

export const initialRepositoryState = (): RepositoryState => ({
  status: 'none',
  name: null,
  visibility: null,
  tags: {},
});
