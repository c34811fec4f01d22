/** `strata save`: images as an OCI image layout tar, like `docker save`. */
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { humanSize } from '../human.js';
import { writeAtomically } from './atomic-file.js';
import { writeAll } from './output-bytes.js';

type ContextOf = (command: Command) => Context;

export function defineSave(command: Command, contextOf: ContextOf): Command {
  return command
    .description('write images to an OCI image layout tar (docker save; umoci and skopeo read it)')
    .argument('<image...>', 'images to save: repo:tag, repo@sha256:…, a digest or an id prefix')
    .option('-o, --output <file>', 'write to this file (created only once the archive is complete); default: stdout if it is not a terminal')
    .addHelpText('after', '\nExamples:\n  strata save app:1.0 -o app.tar\n  strata save app:1.0 app:1.1 | gzip > apps.tar.gz')
    .action(async (refs: string[], options: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (options.output === undefined && ctx.io.stdout.isTTY) {
        throw new UsageError('refusing to write a tar archive to a terminal: give -o <file> or redirect stdout');
      }
      // The node resolves every reference before the first byte: a bad one is a problem answer, and
      // no file is created at all.
      const archive = await ctx.client.download('/images/save', { ref: refs });
      if (options.output === undefined) {
        await writeAll(archive, ctx.io.stdout);
        return;
      }
      const bytes = await writeAtomically(archive, options.output);
      if (ctx.json) return ctx.printJson({ output: options.output, bytes, images: refs });
      ctx.print(`saved ${refs.join(', ')} to ${options.output} (${humanSize(bytes)})`);
    });
}
