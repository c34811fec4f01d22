import type { Decider } from '../shared/decider.js';
import { conflict, invalid, notFound } from '../shared/errors.js';
import type { ContainerAction, ContainerCommand } from './commands.js';
import { EXIT_REASONS, type ContainerEvent } from './events.js';
import { assertContainerId, assertContainerName } from './names.js';
import { initialContainerState, type ContainerState, type ContainerStatus } from './state.js';

export const CONTAINER_CATEGORY = 'container';
export const containerStreamId = (id: string) => `${CONTAINER_CATEGORY}-${assertContainerId(id)}`;

/** Which states each action is allowed in (Docker's rules). Anything else is a 409 naming the state. */
const ALLOWED: Record<ContainerAction, readonly ContainerStatus[]> = {
  start: ['created', 'exited'],
  stop: ['running', 'paused', 'created', 'exited'], // stopping a stopped container changes nothing, as in Docker
  kill: ['running', 'paused'],
  pause: ['running'],
  unpause: ['paused'],
  restart: ['created', 'running', 'paused', 'exited'],
  rename: ['created', 'running', 'paused', 'exited'],
  remove: ['created', 'exited'],
  exec: ['running'],
  commit: ['created', 'running', 'paused', 'exited'],
  files: ['created', 'running', 'paused', 'exited'],
};

const STATE_CODE: Record<ContainerStatus, string> = {
  none: 'CONTAINER_NOT_FOUND',
  created: 'CONTAINER_NOT_STARTED',
  running: 'CONTAINER_RUNNING',
  paused: 'CONTAINER_PAUSED',
  exited: 'CONTAINER_NOT_RUNNING',
  removed: 'CONTAINER_REMOVED',
};

/**
 * Throws unless `action` is allowed in the container's state: 404 for a container that never existed,
 * 409 with a code naming the state otherwise (CONTAINER_RUNNING, CONTAINER_PAUSED, CONTAINER_REMOVED…).
 */
export function assertTransition(state: ContainerState, action: ContainerAction, ref = state.id ?? '?'): void {
  if (state.status === 'none') throw notFound('CONTAINER_NOT_FOUND', `no such container: ${ref}`, { container: ref });
  if (ALLOWED[action].includes(state.status)) return;
  const hint =
    state.status === 'running' && action === 'remove' ? ': stop it first, or remove with force' :
    state.status === 'paused' && (action === 'remove' || action === 'start') ? ': unpause or stop it first' : '';
  throw conflict(STATE_CODE[state.status], `cannot ${action} container ${state.name ?? ref}: it is ${state.status}${hint}`, {
    container: state.id,
    state: state.status,
    action,
  });
}

export function decideContainer(command: ContainerCommand, state: ContainerState): ContainerEvent[] {
  switch (command.type) {
    case 'CreateContainer': {
      const c = command.container;
      assertContainerId(c.id);
      assertContainerName(c.name);
      if (state.status !== 'none') throw conflict('CONTAINER_EXISTS', `container ${c.id} already exists`, { id: c.id });
      return [{ type: 'ContainerCreated', schemaVersion: 1, data: c }];
    }
    case 'StartContainer': {
      if (command.restart && (state.status === 'running' || state.status === 'paused')) return [];
      assertTransition(state, 'start', command.id);
      const restartCount = command.restart ? state.restartCount + 1 : 0;
      return [{ type: 'ContainerStarted', schemaVersion: 1, data: { id: command.id, pid: command.pid, restartCount } }];
    }
    case 'RecordContainerExit': {
      if (!EXIT_REASONS.includes(command.reason)) throw invalid('INVALID_EXIT_REASON', `unknown exit reason ${command.reason}`);
      // An exit seen twice (the supervisor after a restart, a racing stop) is recorded once.
      if (state.status !== 'running' && state.status !== 'paused') return [];
      const { type: _t, ...data } = command;
      return [{ type: 'ContainerExited', schemaVersion: 1, data }];
    }
    case 'PauseContainer':
      assertTransition(state, 'pause', command.id);
      return [{ type: 'ContainerPaused', schemaVersion: 1, data: { id: command.id } }];
    case 'UnpauseContainer':
      assertTransition(state, 'unpause', command.id);
      return [{ type: 'ContainerUnpaused', schemaVersion: 1, data: { id: command.id } }];
    case 'KillContainer':
      assertTransition(state, 'kill', command.id);
      return [{ type: 'ContainerSignalled', schemaVersion: 1, data: { id: command.id, signal: command.signal } }];
    case 'RenameContainer': {
      assertTransition(state, 'rename', command.id);
      const to = assertContainerName(command.name);
      if (to === state.name) return [];
      return [{ type: 'ContainerRenamed', schemaVersion: 1, data: { id: command.id, from: state.name!, to } }];
    }
    case 'RecordFilesChanged':
      assertTransition(state, 'files', command.id);
      if (command.changes.length === 0) return [];
      return [{ type: 'ContainerFilesChanged', schemaVersion: 1, data: { id: command.id, source: command.source, changes: command.changes } }];
    case 'RequestCommit': {
      assertTransition(state, 'commit', command.id);
      if (state.commits.includes(command.commitId) || state.pendingCommits.includes(command.commitId)) return [];
      const { type: _t, ...data } = command;
      return [{ type: 'ContainerCommitRequested', schemaVersion: 1, data }];
    }
    case 'RecordCommit': {
      // A requested commit is finished even if the container was removed meanwhile: the image is made.
      if (!state.pendingCommits.includes(command.commitId)) assertTransition(state, 'commit', command.id);
      if (state.commits.includes(command.commitId)) return [];
      const { type: _t, ...data } = command;
      return [{ type: 'ContainerCommitted', schemaVersion: 1, data }];
    }
    case 'RemoveContainer':
      assertTransition(state, 'remove', command.id);
      return [{ type: 'ContainerRemoved', schemaVersion: 1, data: { id: command.id, name: state.name! } }];
  }
}

export function evolveContainer(state: ContainerState, event: ContainerEvent): ContainerState {
  switch (event.type) {
    case 'ContainerCreated':
      return {
        ...state,
        status: 'created',
        id: event.data.id,
        name: event.data.name,
        nodeId: event.data.nodeId,
        restartPolicy: event.data.restartPolicy,
      };
    case 'ContainerStarted':
      return { ...state, status: 'running', restartCount: event.data.restartCount };
    case 'ContainerExited':
      return { ...state, status: 'exited', lastExit: { exitCode: event.data.exitCode, reason: event.data.reason } };
    case 'ContainerPaused':
      return { ...state, status: 'paused' };
    case 'ContainerUnpaused':
      return { ...state, status: 'running' };
    case 'ContainerRenamed':
      return { ...state, name: event.data.to };
    case 'ContainerCommitRequested':
      return { ...state, pendingCommits: [...state.pendingCommits, event.data.commitId] };
    case 'ContainerCommitted':
      return {
        ...state,
        commits: [...state.commits, event.data.commitId],
        pendingCommits: state.pendingCommits.filter((c) => c !== event.data.commitId),
      };
    case 'ContainerRemoved':
      return { ...state, status: 'removed' };
    default:
      return state;
  }
}

export const containerDecider: Decider<ContainerState, ContainerCommand, ContainerEvent> = {
  category: CONTAINER_CATEGORY,
  initialState: initialContainerState,
  decide: decideContainer,
  evolve: evolveContainer,
};
