import type { Decider } from '../shared/decider.js';
import { conflict, invalid, notFound } from '../shared/errors.js';

/**
 * A node of a cluster: one stream per node (`node-<nodeId>`) records when it joined, drained, left or
 * was declared lost, and the failover of each loss: which containers it stranded, which node runs it
 * (the declarer, or a node that took it over) and when it was completed. Liveness itself is not in the
 * log (heartbeats would flood it): it is a key with a TTL in a JetStream key-value bucket; the log
 * records only the decisions taken from it.
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

/** A failover not completed yet: what it must do and which node does it. */
export interface NodeFailover {
  /** Names the loss; every step of the failover derives its command id from it. */
  failoverId: string;
  /** The node's running and paused containers when it was declared lost. */
  containers: string[];
  /** The node running it: the declarer, then whoever took it over. */
  runner: string;
  /** How many times it was taken over (the id of the next takeover's command). */
  takeovers: number;
}

/** What a finished failover did: the replacement of each rescheduled container, and what it gave up on. */
export interface NodeFailoverOutcome {
  rescheduled: Array<{ from: string; to: string }>;
  failed: Array<{ container: string; code: string }>;
}

export type NodeCommand =
  | { type: 'JoinNode'; node: NodeInfo }
  | { type: 'DrainNode'; nodeId: string }
  | { type: 'LeaveNode'; nodeId: string }
  | { type: 'DeclareNodeLost'; nodeId: string; declaredBy: string; lastHeartbeat: string | null; failoverId: string; containers: string[] }
  | { type: 'TakeOverNodeFailover'; nodeId: string; failoverId: string; from: string; by: string }
  | ({ type: 'CompleteNodeFailover'; nodeId: string; failoverId: string; completedBy: string } & NodeFailoverOutcome);

export type NodeEvent =
  | { type: 'NodeJoined'; schemaVersion: 1; data: NodeInfo }
  | { type: 'NodeDraining'; schemaVersion: 1; data: { nodeId: string } }
  | { type: 'NodeLeft'; schemaVersion: 1; data: { nodeId: string } }
  | { type: 'NodeLost'; schemaVersion: 1; data: { nodeId: string; declaredBy: string; lastHeartbeat: string | null } }
  | { type: 'NodeFailoverStarted'; schemaVersion: 1; data: { nodeId: string; failoverId: string; runner: string; containers: string[] } }
  | { type: 'NodeFailoverTakenOver'; schemaVersion: 1; data: { nodeId: string; failoverId: string; from: string; by: string } }
  | { type: 'NodeFailoverCompleted'; schemaVersion: 1; data: { nodeId: string; failoverId: string; completedBy: string } & NodeFailoverOutcome };

export interface NodeState {
  status: NodeStatus;
  info: NodeInfo | null;
  /** Failovers of this node's losses not completed yet (a crashed runner leaves one here for another to take over). */
  failovers: NodeFailover[];
}

const sameInfo = (a: NodeInfo | null, b: NodeInfo) => a !== null && JSON.stringify(a) === JSON.stringify(b);

export const nodeDecider: Decider<NodeState, NodeCommand, NodeEvent> = {
  category: NODE_CATEGORY,
  initialState: () => ({ status: 'unknown', info: null, failovers: [] }),
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
      case 'DeclareNodeLost': {
        // Exactly once: whoever finds it lost first records it; every later declaration changes nothing.
        if (state.status !== 'ready' && state.status !== 'draining') return [];
        const { nodeId, declaredBy, failoverId, containers } = command;
        if (!failoverId) throw invalid('INVALID_FAILOVER_ID', 'a loss needs the id of its failover', { nodeId });
        if (state.failovers.some((f) => f.failoverId === failoverId)) throw conflict('FAILOVER_EXISTS', `failover ${failoverId} of node ${nodeId} is already under way`, { nodeId, failoverId });
        // The plan goes into the log with the loss, in one append: a declarer that dies right after still leaves it for another.
        return [
          { type: 'NodeLost', schemaVersion: 1, data: { nodeId, declaredBy, lastHeartbeat: command.lastHeartbeat } },
          { type: 'NodeFailoverStarted', schemaVersion: 1, data: { nodeId, failoverId, runner: declaredBy, containers: [...new Set(containers)] } },
        ];
      }
      case 'TakeOverNodeFailover': {
        // Compare-and-set on the runner: of the nodes that saw the same runner gone, one takes it over.
        const failover = state.failovers.find((f) => f.failoverId === command.failoverId);
        if (!failover || failover.runner !== command.from || command.by === command.from) return [];
        const { nodeId, failoverId, from, by } = command;
        return [{ type: 'NodeFailoverTakenOver', schemaVersion: 1, data: { nodeId, failoverId, from, by } }];
      }
      case 'CompleteNodeFailover': {
        // Once: a second runner finishing the same failover (a takeover racing a slow runner) records nothing.
        if (!state.failovers.some((f) => f.failoverId === command.failoverId)) return [];
        const { nodeId, failoverId, completedBy, rescheduled, failed } = command;
        return [{ type: 'NodeFailoverCompleted', schemaVersion: 1, data: { nodeId, failoverId, completedBy, rescheduled, failed } }];
      }
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'NodeJoined':
        // A lost node that comes back does not cancel its failover: its containers were already given up on.
        return { ...state, status: 'ready', info: event.data };
      case 'NodeDraining':
        return { ...state, status: 'draining' };
      case 'NodeLeft':
        return { ...state, status: 'left' };
      case 'NodeLost':
        return { ...state, status: 'lost' };
      case 'NodeFailoverStarted': {
        const { failoverId, containers, runner } = event.data;
        return { ...state, failovers: [...state.failovers, { failoverId, containers, runner, takeovers: 0 }] };
      }
      case 'NodeFailoverTakenOver':
        return {
          ...state,
          failovers: state.failovers.map((f) => (f.failoverId === event.data.failoverId ? { ...f, runner: event.data.by, takeovers: f.takeovers + 1 } : f)),
        };
      case 'NodeFailoverCompleted':
        return { ...state, failovers: state.failovers.filter((f) => f.failoverId !== event.data.failoverId) };
      default:
        return state;
    }
  },
};

function nodeNotReady(nodeId: string, status: NodeStatus) {
  if (status === 'unknown') return notFound('NODE_NOT_FOUND', `no node ${nodeId} has joined this cluster`, { nodeId });
  return conflict('NODE_NOT_READY', `node ${nodeId} is ${status}, not ready`, { nodeId, status });
}
