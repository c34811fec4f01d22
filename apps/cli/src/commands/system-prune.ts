/** `strata system prune`: remove the stored content nothing needs any more. */
import type { Command } from 'commander';
import type { PruneReply } from '@strata/api';
import type { Context } from '../context.js';
import { humanSize } from '../human.js';

type ContextOf = (command: Command) => Context;

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

export function registerSystem(program: Command, contextOf: ContextOf): void {
  const system = program.command('system').description('manage the node as a whole');
  system
    .command('prune')
    .description('remove blobs and snapshots no image, container or upload in progress needs')
    .option('--dry-run', 'only say what would be removed')
    .action(async (options: { dryRun?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const reply = await ctx.client.invoke<PruneReply>('POST', '/system/prune', undefined, { dryRun: options.dryRun === true });
      if (ctx.json) return ctx.printJson(reply);
      const what = `${count(reply.removedBlobs, 'unused blob')} and ${count(reply.removedSnapshots, 'snapshot')}`;
      if (reply.dryRun) return ctx.print(`would remove ${what}, freeing ${humanSize(reply.freedBytes)}`);
      ctx.print(`removed ${what}`);
      ctx.print(`Total reclaimed space: ${humanSize(reply.freedBytes)}`);
    });
}
