/** `strata rmi` / `strata image rm`, like `docker rmi`. */
import type { Command } from 'commander';
import type { RemoveImageReply } from '@strata/api';
import type { Context } from '../context.js';
import { eachTarget } from './each-target.js';
import { imagePath } from './paths.js';

type ContextOf = (command: Command) => Context;

export function defineRemove(command: Command, contextOf: ContextOf): Command {
  return command
    .description('remove images (refused while a tag or a container uses one, unless --force untags it first)')
    .argument('<image...>', 'repo:tag, repo@sha256:…, a digest or an id prefix')
    .option('-f, --force', 'remove the image even if tagged: its tags are removed first')
    .action(async (refs: string[], options: { force?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      // One after the other, each result printed as it comes: a later refusal does not hide what was done.
      const removed = await eachTarget(ctx, refs, async (ref) => {
        const reply = await ctx.client.invoke<RemoveImageReply>('DELETE', imagePath(ref), undefined, { force: options.force === true });
        if (!ctx.json) {
          for (const tag of reply.untagged) ctx.print(`Untagged: ${tag}`);
          ctx.print(`Deleted: ${reply.imageId}`);
        }
        return reply;
      });
      if (ctx.json) ctx.printJson(removed.results);
      removed.done();
    });
}
