import { nodeDecider, nodeStreamId, type NodeCommand } from '@strata/domain';
import { z } from 'zod';
import type { CommandSpec } from '../commands/command-catalog.js';

/** Cluster membership in the command catalog: the node records joins, leaves and losses itself; people drain. */
const nodeSpec = (name: NodeCommand['type'], summary: string, input: z.ZodType<object>, internal: boolean): CommandSpec => ({
  name,
  summary,
  internal,
  input,
  decider: nodeDecider,
  prepare: async (i: object) => ({ ...i, type: name }),
  streamId: (c: { nodeId?: string; node?: { nodeId: string } }) => nodeStreamId(c.nodeId ?? c.node?.nodeId ?? ''),
});

const nodeId = z.string().min(1).max(63);
const failoverId = z.string().min(1).max(120);
const containerId = z.string().regex(/^[a-f0-9]{64}$/);

export const NODE_COMMANDS: CommandSpec[] = [
  nodeSpec('JoinNode', 'Record a node joining the cluster (done by the node at start).', z.object({ node: z.custom<object>((v) => typeof v === 'object' && v !== null) }).strict(), true),
  nodeSpec('DrainNode', 'Place nothing new on a node (what runs there keeps running).', z.object({ nodeId }).strict(), false),
  nodeSpec('LeaveNode', 'Record a node leaving cleanly (done by the node at shutdown).', z.object({ nodeId }).strict(), true),
  nodeSpec(
    'DeclareNodeLost',
    'Record a node whose heartbeat lapsed as lost, and the failover of its containers (done by a surviving node).',
    z.object({ nodeId, declaredBy: nodeId, lastHeartbeat: z.string().nullable(), failoverId, containers: z.array(containerId).max(100_000) }).strict(),
    true,
  ),
  nodeSpec(
    'TakeOverNodeFailover',
    'Take over the unfinished failover of a lost node from a runner that is gone (done by a surviving node).',
    z.object({ nodeId, failoverId, from: nodeId, by: nodeId }).strict(),
    true,
  ),
  nodeSpec(
    'CompleteNodeFailover',
    'Record the failover of a lost node as done (done by the node that ran it).',
    z
      .object({
        nodeId,
        failoverId,
        completedBy: nodeId,
        rescheduled: z.array(z.object({ from: containerId, to: containerId }).strict()),
        failed: z.array(z.object({ container: containerId, code: z.string().max(100) }).strict()),
      })
      .strict(),
    true,
  ),
];
