/** `strata node ls|drain`: the cluster's nodes, their state and load. */
import type { Command } from 'commander';
import type { CommandReply, ListReply, NodeView } from '@strata/api';
import type { Context } from '../context.js';
import { timeAgo } from '../human.js';
import { formatTable } from '../table.js';

type ContextOf = (command: Command) => Context;

export function registerNode(program: Command, contextOf: ContextOf): void {
  const node = program.command('node').description('the nodes of a cluster (a node on NATS joins by itself)');
  node
    .command('ls')
    .description('list nodes: state (ready, draining, left, lost), containers, last heartbeat')
    .action(async (_options: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const reply = await ctx.client.get<ListReply<NodeView>>('/nodes');
      if (ctx.json) return ctx.printJson(reply);
      if (reply.items.length === 0) return ctx.print('no nodes: this node runs alone, without NATS (start it with --nats / STRATA_NATS_URL to form a cluster)');
      const now = ctx.io.now();
      ctx.print(
        formatTable(
          ['NODE', 'STATUS', 'ADDRESS', 'CONTAINERS', 'RUNNING', 'CAPACITY', 'HEARTBEAT', 'SNAPSHOTTER'],
          reply.items.map((n) => [
            n.nodeId,
            n.status === 'ready' && !n.alive ? 'ready (silent)' : n.status,
            n.address,
            n.containers,
            n.running,
            n.capacity,
            n.lastHeartbeat ? timeAgo(n.lastHeartbeat, now) : '-',
            n.snapshotter,
          ]),
        ),
      );
    });
  node
    .command('drain')
    .description('place nothing new on a node (what runs there keeps running)')
    .argument('<node>', 'the node id')
    .action(async (id: string, _options: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const reply = await ctx.client.invoke<CommandReply>('POST', `/nodes/${encodeURIComponent(id)}/drain`);
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(reply.events.length > 0 ? `${id} is draining` : `${id} was already draining`);
    });
}
