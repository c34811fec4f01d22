import { initialContainerState, type ContainerState } from '@strata/domain';
import { describe, expect, it } from 'vitest';
import { strandedAction } from './stranded-containers.js';

const state = (over: Partial<ContainerState>): ContainerState => ({ ...initialContainerState(), id: 'c', nodeId: 'me', ...over });

describe('strandedAction: a container layer on this disk, against the log', () => {
  it.each([
    ['never recorded', state({ status: 'none', nodeId: null }), false, 'delete'],
    ['recorded by another node', state({ status: 'created', nodeId: 'other' }), false, 'delete'],
    ['recorded by another node, running here', state({ status: 'running', nodeId: 'other' }), true, 'stop-and-delete'],
    ['removed while away, still running here', state({ status: 'removed' }), true, 'stop-and-delete'],
    ['removed while away, not running', state({ status: 'removed' }), false, 'delete'],
    ['exited in the log, still running here', state({ status: 'exited' }), true, 'stop'],
    ['exited in the log and here', state({ status: 'exited' }), false, 'keep'],
    ['running in the log and here', state({ status: 'running' }), true, 'keep'],
    ['running in the log, gone here (the process watcher records that)', state({ status: 'running' }), false, 'keep'],
    ['paused', state({ status: 'paused' }), true, 'keep'],
    ['removed but a commit is pending (the commit service goes first)', state({ status: 'removed', pendingCommits: ['x'] }), true, 'keep'],
  ] as const)('%s', (_what, s, runs, action) => {
    expect(strandedAction(s, 'me', runs)).toBe(action);
  });
});
