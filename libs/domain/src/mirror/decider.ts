import type { Decider } from '../shared/decider.js';
import { conflict, invalid, notFound } from '../shared/errors.js';
import { assertRepositoryName } from '../repository/names.js';
import type { MirrorCommand } from './commands.js';
import type { MirrorAddedData, MirrorEvent } from './events.js';

export const MIRROR_CATEGORY = 'mirror';
export const mirrorStreamId = (id: string) => `${MIRROR_CATEGORY}-${id}`;

export interface MirrorState {
  status: 'none' | 'active' | 'removed';
  mirror: MirrorAddedData | null;
}
export const initialMirrorState = (): MirrorState => ({ status: 'none', mirror: null });

const ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

export function assertMirrorId(value: unknown): string {
  if (typeof value !== 'string' || !ID.test(value)) throw invalid('INVALID_MIRROR_ID', `invalid mirror id ${JSON.stringify(value)}`, { id: value });
  return value;
}

/**
 * A source is a node's base URL: http or https, a host and maybe a port, nothing else (no user info:
 * credentials never travel in a URL that is recorded; no path, query or fragment). Returned normalised.
 */
export function normalizeMirrorSource(value: unknown): string {
  const bad = () =>
    invalid('INVALID_MIRROR_SOURCE', `invalid mirror source ${JSON.stringify(value)}: give the node's base URL, e.g. "http://127.0.0.1:7070"`, { source: value });
  if (typeof value !== 'string' || value.length > 2048) throw bad();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad();
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw bad();
  }
  return `${url.protocol}//${url.host}`;
}

export function decideMirror(command: MirrorCommand, state: MirrorState): MirrorEvent[] {
  const id = assertMirrorId(command.id);
  switch (command.type) {
    case 'AddMirror': {
      const source = normalizeMirrorSource(command.source);
      const repository = assertRepositoryName(command.repository);
      const localRepository = assertRepositoryName(command.localRepository);
      if (state.status !== 'none') throw conflict('MIRROR_EXISTS', `mirror ${id} already exists`, { id });
      return [{ type: 'MirrorAdded', schemaVersion: 1, data: { id, source, repository, localRepository } }];
    }
    case 'RemoveMirror':
      if (state.status !== 'active') throw notFound('MIRROR_NOT_FOUND', `no mirror ${id}`, { id });
      return [{ type: 'MirrorRemoved', schemaVersion: 1, data: { id } }];
  }
}

export function evolveMirror(state: MirrorState, event: MirrorEvent): MirrorState {
  switch (event.type) {
    case 'MirrorAdded':
      return { status: 'active', mirror: event.data };
    case 'MirrorRemoved':
      return { ...state, status: 'removed' };
    default:
      return state;
  }
}

export const mirrorDecider: Decider<MirrorState, MirrorCommand, MirrorEvent> = {
  category: MIRROR_CATEGORY,
  initialState: initialMirrorState,
  decide: decideMirror,
  evolve: evolveMirror,
};
