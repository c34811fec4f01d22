/** `strata commit`: a container's writable layer as a new image, like `docker commit`. */
import type { Command } from 'commander';
import type { CommitReply, CommitRequest } from '@strata/api';
import { parseTagRef } from '../args.js';
import type { Context } from '../context.js';
import { containerPath } from './paths.js';

type ContextOf = (command: Command) => Context;

interface CommitOptions {
  author?: string;
  message?: string;
  change: string[];
  pause: boolean;
}

export function defineCommit(command: Command, contextOf: ContextOf): Command {
  return command
    .description("make a new image from a container's changes (its image plus one layer); prints the image id")
    .argument('<container>', 'id, unique id prefix or name')
    .argument('[repo:tag]', 'tag the new image; without :tag, latest')
    .option('-a, --author <name>', 'the author recorded in the image, e.g. "Jane <jane@example.com>"')
    .option('-m, --message <text>', 'the commit message, in the image history')
    .option(
      '-c, --change <instruction>',
      'a Dockerfile instruction applied to the config: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL (repeatable)',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--no-pause', 'do not pause a running container while its layer is read')
    .addHelpText('after', `\nExamples:\n  strata commit web demo/app:1 -m "add greeting" -a "Jane <jane@example.com>"\n  strata commit -c 'CMD ["sh", "-c", "cat /greeting"]' web demo/app:2`)
    .action(async (ref: string, tagText: string | undefined, options: CommitOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      const target = tagText === undefined ? undefined : parseTagRef(tagText);
      const body: CommitRequest = {
        tag: target && `${target.name}:${target.tag}`,
        author: options.author,
        message: options.message,
        changes: options.change.length > 0 ? options.change : undefined,
        pause: options.pause,
      };
      // Reading a large writable layer into the content store takes as long as it takes (as with
      // docker commit, no limit; Ctrl-C gives up waiting, and the node finishes the commit anyway).
      const reply = await ctx.client.invoke<CommitReply>('POST', `${containerPath(ref)}/commit`, body, undefined, { timeoutMs: Infinity });
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(reply.image.imageId);
    });
}
