import { describe, expect, it } from 'vitest';
import { fold } from '../shared/decider.js';
import { codeOf } from '../testing/error-code.js';
import { nodeDecider, type NodeEvent, type NodeInfo } from './node.js';

const info: NodeInfo = { nodeId: 'node-1', address: 'http://127.0.0.1:7071', runtime: 'runc', snapshotter: 'overlay', capacity: 10, version: '0.1.0' };
const joined: NodeEvent = { type: 'NodeJoined', schemaVersion: 1, data: info };
const state = (...events: NodeEvent[]) => fold(nodeDecider, events as never[]);
const decide = (command: Parameters<typeof nodeDecider.decide>[0], ...events: NodeEvent[]) => nodeDecider.decide(command, state(...events));

describe('node decider', () => {
  it('joins, and a restarted node with the same facts changes nothing; with new facts it joins again', () => {
    expect(decide({ type: 'JoinNode', node: info })).toEqual([joined]);
    expect(decide({ type: 'JoinNode', node: info }, joined)).toEqual([]);
    expect(decide({ type: 'JoinNode', node: { ...info, address: 'http://127.0.0.1:9999' } }, joined)[0]!.type).toBe('NodeJoined');
  });

  it('is declared lost exactly once, with the plan of its failover in the same append, and rejoins after', () => {
    const declare = (by: string) => ({ type: 'DeclareNodeLost' as const, nodeId: 'node-1', declaredBy: by, lastHeartbeat: null, failoverId: 'failover-node-1-1', containers: ['c1', 'c2', 'c1'] });
    const lost = decide(declare('node-2'), joined);
    expect(lost).toEqual([
      { type: 'NodeLost', schemaVersion: 1, data: { nodeId: 'node-1', declaredBy: 'node-2', lastHeartbeat: null } },
      { type: 'NodeFailoverStarted', schemaVersion: 1, data: { nodeId: 'node-1', failoverId: 'failover-node-1-1', runner: 'node-2', containers: ['c1', 'c2'] } },
    ]);
    expect(decide(declare('node-3'), joined, ...lost)).toEqual([]);
    expect(state(joined, ...lost).status).toBe('lost');
    expect(state(joined, ...lost).failovers).toEqual([{ failoverId: 'failover-node-1-1', containers: ['c1', 'c2'], runner: 'node-2', takeovers: 0 }]);
    expect(decide({ type: 'JoinNode', node: info }, joined, ...lost)).toEqual([joined]);
    // Coming back does not cancel the failover of the loss: it is still to be finished.
    expect(state(joined, ...lost, joined).failovers).toHaveLength(1);
    expect(codeOf(() => decide({ ...declare('node-2'), failoverId: '' }, joined))).toBe('INVALID_FAILOVER_ID');
    expect(codeOf(() => decide(declare('node-2'), joined, ...lost, joined))).toBe('FAILOVER_EXISTS');
  });

  it('hands a failover over once per runner (compare-and-set on the runner), and completes it once', () => {
    const lost = decide({ type: 'DeclareNodeLost', nodeId: 'node-1', declaredBy: 'node-2', lastHeartbeat: null, failoverId: 'f1', containers: ['c1'] }, joined);
    const takeOver = (from: string, by: string) => ({ type: 'TakeOverNodeFailover' as const, nodeId: 'node-1', failoverId: 'f1', from, by });
    const taken = decide(takeOver('node-2', 'node-3'), joined, ...lost);
    expect(taken).toEqual([{ type: 'NodeFailoverTakenOver', schemaVersion: 1, data: { nodeId: 'node-1', failoverId: 'f1', from: 'node-2', by: 'node-3' } }]);
    expect(state(joined, ...lost, ...taken).failovers[0]).toMatchObject({ runner: 'node-3', takeovers: 1 });
    // A second node that saw node-2 gone is too late: the runner is node-3 now.
    expect(decide(takeOver('node-2', 'node-4'), joined, ...lost, ...taken)).toEqual([]);
    expect(decide(takeOver('node-3', 'node-3'), joined, ...lost, ...taken)).toEqual([]);
    expect(decide({ ...takeOver('node-2', 'node-3'), failoverId: 'f9' }, joined, ...lost)).toEqual([]);

    const complete = { type: 'CompleteNodeFailover' as const, nodeId: 'node-1', failoverId: 'f1', completedBy: 'node-3', rescheduled: [{ from: 'c1', to: 'c9' }], failed: [] };
    const done = decide(complete, joined, ...lost, ...taken);
    expect(done).toEqual([
      { type: 'NodeFailoverCompleted', schemaVersion: 1, data: { nodeId: 'node-1', failoverId: 'f1', completedBy: 'node-3', rescheduled: [{ from: 'c1', to: 'c9' }], failed: [] } },
    ]);
    expect(state(joined, ...lost, ...taken, ...done).failovers).toEqual([]);
    expect(decide({ ...complete, completedBy: 'node-2' }, joined, ...lost, ...taken, ...done)).toEqual([]);
    expect(decide(takeOver('node-3', 'node-4'), joined, ...lost, ...taken, ...done)).toEqual([]);
  });

  it('keeps the failovers of two losses apart (lost, back, lost again before the first was finished)', () => {
    const first = decide({ type: 'DeclareNodeLost', nodeId: 'node-1', declaredBy: 'node-2', lastHeartbeat: null, failoverId: 'f1', containers: ['c1'] }, joined);
    const second = decide({ type: 'DeclareNodeLost', nodeId: 'node-1', declaredBy: 'node-3', lastHeartbeat: null, failoverId: 'f2', containers: ['c2'] }, joined, ...first, joined);
    const both = state(joined, ...first, joined, ...second);
    expect(both.failovers.map((f) => [f.failoverId, f.runner])).toEqual([['f1', 'node-2'], ['f2', 'node-3']]);
    const done = decide({ type: 'CompleteNodeFailover', nodeId: 'node-1', failoverId: 'f1', completedBy: 'node-2', rescheduled: [], failed: [] }, joined, ...first, joined, ...second);
    expect(state(joined, ...first, joined, ...second, ...done).failovers.map((f) => f.failoverId)).toEqual(['f2']);
  });

  it('drains only a ready node, leaves once, and refuses bad input', () => {
    expect(decide({ type: 'DrainNode', nodeId: 'node-1' }, joined)[0]!.type).toBe('NodeDraining');
    expect(codeOf(() => decide({ type: 'DrainNode', nodeId: 'node-9' }))).toBe('NODE_NOT_FOUND');
    const left: NodeEvent = { type: 'NodeLeft', schemaVersion: 1, data: { nodeId: 'node-1' } };
    expect(codeOf(() => decide({ type: 'DrainNode', nodeId: 'node-1' }, joined, left))).toBe('NODE_NOT_READY');
    expect(decide({ type: 'LeaveNode', nodeId: 'node-1' }, joined)).toEqual([left]);
    expect(decide({ type: 'LeaveNode', nodeId: 'node-1' }, joined, left)).toEqual([]);
    expect(codeOf(() => decide({ type: 'JoinNode', node: { ...info, nodeId: 'bad id' } }))).toBe('INVALID_NODE_ID');
    expect(codeOf(() => decide({ type: 'JoinNode', node: { ...info, capacity: -1 } }))).toBe('INVALID_CAPACITY');
  });
});
