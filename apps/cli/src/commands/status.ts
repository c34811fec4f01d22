/** `strata status`: the node, its log head and how far each projection has caught up. */
import type { Command } from 'commander';
import type { StatusReply } from '@strata/api';
import { queryParams, withQueryOptions, type Context, type QueryOptions } from '../context.js';
import { formatFields, formatSeconds, formatTable } from '../table.js';

type ContextOf = (command: Command) => Context;

export function registerStatus(program: Command, contextOf: ContextOf): void {
  withQueryOptions(program.command('status').description('show the node, the log head and the projections')).action(
    async (options: QueryOptions, command: Command) => {
      const ctx = contextOf(command);
      const status = await ctx.client.get<StatusReply>('/status', queryParams(options, ctx.io.now()));
      if (ctx.json) return ctx.printJson(status);
      ctx.print(
        formatFields([
          ['node', status.nodeId],
          ['url', ctx.client.url],
          ['version', status.version],
          ['backend', status.backend],
          ['data dir', status.dataDir],
          ['head', status.head],
          ['uptime', formatSeconds(status.uptimeSeconds)],
          ['you are', status.principal],
        ]),
      );
      ctx.print('');
      ctx.print(
        formatTable(
          ['PROJECTION', 'POSITION', 'LAG'],
          status.projections.map((p) => [p.name, p.position, p.lag]),
        ),
      );
    },
  );
}
