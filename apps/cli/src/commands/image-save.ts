/** `strata save`: images as an OCI image layout tar, like `docker save`. */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { LocalError, ProtocolError, UsageError } from '../errors.js';
import { humanSize } from '../human.js';
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
      const bytes = await saveAtomically(archive, options.output);
      if (ctx.json) return ctx.printJson({ output: options.output, bytes, images: refs });
      ctx.print(`saved ${refs.join(', ')} to ${options.output} (${humanSize(bytes)})`);
    });
}

/**
 * The archive is written next to `output` under a temporary name and renamed only when complete, so a
 * failed or interrupted save never leaves a truncated file where a complete one is expected (nor
 * replaces a good one from before).
 */
async function saveAtomically(archive: Readable, output: string): Promise<number> {
  const temp = join(dirname(output), `.${basename(output)}.${randomBytes(4).toString('hex')}.partial`);
  let bytes = 0;
  async function* counted(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      bytes += chunk.byteLength;
      yield chunk;
    }
  }
  try {
    await pipeline(archive, counted, createWriteStream(temp, { flags: 'wx' }));
    await rename(temp, output);
    return bytes;
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    if (error instanceof ProtocolError) throw error;
    if (isAbort(error)) throw error;
    throw new LocalError(`writing ${output} failed: ${(error as Error).message}`, { cause: error });
  }
}

const isAbort = (error: unknown): boolean => error instanceof Error && error.name === 'AbortError';
