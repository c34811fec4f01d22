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

  it('is declared lost exactly once, and rejoins after', () => {
    const lost = decide({ type: 'DeclareNodeLost', nodeId: 'node-1', declaredBy: 'node-2', lastHeartbeat: null }, joined);
    expect(lost).toEqual([{ type: 'NodeLost', schemaVersion: 1, data: { nodeId: 'node-1', declaredBy: 'node-2', lastHeartbeat: null } }]);
    expect(decide({ type: 'DeclareNodeLost', nodeId: 'node-1', declaredBy: 'node-3', lastHeartbeat: null }, joined, lost[0]!)).toEqual([]);
    expect(state(joined, lost[0]!).status).toBe('lost');
    expect(decide({ type: 'JoinNode', node: info }, joined, lost[0]!)).toEqual([joined]);
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
