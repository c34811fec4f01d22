import type { Decider } from '../shared/decider.js';
import { conflict, invalid, notFound } from '../shared/errors.js';

/**
 * A node of a cluster: one stream per node (`node-<nodeId>`) records when it joined, drained, left or
 * was declared lost. Liveness itself is not in the log (heartbeats would flood it): it is a key with a
 * TTL in a JetStream key-value bucket; the log records only the decisions taken from it.
 */
export const NODE_CATEGORY = 'node';
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function assertNodeId(nodeId: string): string {
  if (!NODE_ID.test(nodeId)) throw invalid('INVALID_NODE_ID', `invalid node id "${nodeId}": 1-63 letters, digits, '_', '.', '-'`, { nodeId });
  return nodeId;
}
export const nodeStreamId = (nodeId: string) => `${NODE_CATEGORY}-${assertNodeId(nodeId)}`;

export interface NodeInfo {
  nodeId: string;
  /** Where its HTTP API answers (for people and for `/v2/` layer fetches). */
  address: string;
  runtime: string;
  snapshotter: string;
  /** How many containers it takes (the scheduler's budget). */
  capacity: number;
  version: string;
}

export type NodeStatus = 'unknown' | 'ready' | 'draining' | 'left' | 'lost';

export type NodeCommand =
  | { type: 'JoinNode'; node: NodeInfo }
  | { type: 'DrainNode'; nodeId: string }
  | { type: 'LeaveNode'; nodeId: string }
  | { type: 'DeclareNodeLost'; nodeId: string; declaredBy: string; lastHeartbeat: string | null };

export type NodeEvent =
  | { type: 'NodeJoined'; schemaVersion: 1; data: NodeInfo }
  | { type: 'NodeDraining'; schemaVersion: 1; data: { nodeId: string } }
  | { type: 'NodeLeft'; schemaVersion: 1; data: { nodeId: string } }
  | { type: 'NodeLost'; schemaVersion: 1; data: { nodeId: string; declaredBy: string; lastHeartbeat: string | null } };

export interface NodeState {
  status: NodeStatus;
  info: NodeInfo | null;
}

const sameInfo = (a: NodeInfo | null, b: NodeInfo) => a !== null && JSON.stringify(a) === JSON.stringify(b);

export const nodeDecider: Decider<NodeState, NodeCommand, NodeEvent> = {
  category: NODE_CATEGORY,
  initialState: () => ({ status: 'unknown', info: null }),
  decide(command, state) {
    switch (command.type) {
      case 'JoinNode': {
        const node = command.node;
        assertNodeId(node.nodeId);
        if (!Number.isSafeInteger(node.capacity) || node.capacity < 0) throw invalid('INVALID_CAPACITY', 'capacity must be a whole number of containers', {});
        // A restarted node joins again; the same node still ready with the same facts changes nothing.
        if (state.status === 'ready' && sameInfo(state.info, node)) return [];
        return [{ type: 'NodeJoined', schemaVersion: 1, data: node }];
      }
      case 'DrainNode':
        if (state.status === 'draining') return [];
        if (state.status !== 'ready') throw nodeNotReady(command.nodeId, state.status);
        return [{ type: 'NodeDraining', schemaVersion: 1, data: { nodeId: command.nodeId } }];
      case 'LeaveNode':
        if (state.status !== 'ready' && state.status !== 'draining') return [];
        return [{ type: 'NodeLeft', schemaVersion: 1, data: { nodeId: command.nodeId } }];
      case 'DeclareNodeLost':
        // Exactly once: whoever finds it lost first records it; every later declaration changes nothing.
        if (state.status !== 'ready' && state.status !== 'draining') return [];
        return [{ type: 'NodeLost', schemaVersion: 1, data: { nodeId: command.nodeId, declaredBy: command.declaredBy, lastHeartbeat: command.lastHeartbeat } }];
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'NodeJoined':
        return { status: 'ready', info: event.data };
      case 'NodeDraining':
        return { ...state, status: 'draining' };
      case 'NodeLeft':
        return { ...state, status: 'left' };
      case 'NodeLost':
        return { ...state, status: 'lost' };
      default:
        return state;
    }
  },
};

function nodeNotReady(nodeId: string, status: NodeStatus) {
  if (status === 'unknown') return notFound('NODE_NOT_FOUND', `no node ${nodeId} has joined this cluster`, { nodeId });
  return conflict('NODE_NOT_READY', `node ${nodeId} is ${status}, not ready`, { nodeId, status });
}
