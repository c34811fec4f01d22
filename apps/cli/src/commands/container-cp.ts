/**
 * `strata cp <file> <ctr>:<path>` and `strata cp <ctr>:<path> <file>`, like `docker cp` for one file:
 * the bytes stream both ways, a download lands whole or not at all, `-` is stdin or stdout (the file's
 * bytes as they are, not a tar archive as Docker's `-` would be).
 */
import { stat } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import type { Command } from 'commander';
import type { ContainerReply } from '@strata/api';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { humanSize } from '../human.js';
import type { UploadStream } from '../upload-source.js';
import { writeAtomically } from './atomic-file.js';
import { writeAll } from './output-bytes.js';
import { containerPath } from './paths.js';

type ContextOf = (command: Command) => Context;

export type CopyEnd = { kind: 'stdio' } | { kind: 'local'; path: string } | { kind: 'container'; ref: string; path: string };

/**
 * Docker's reading of a cp argument: `-` is stdin/stdout; a path starting with `/` or `.` is local
 * (so `./a:b` names a local file with a colon); otherwise `name:path` is a container's path, relative
 * ones taken from the container's root.
 */
export function parseCopyEnd(text: string): CopyEnd {
  if (text === '-') return { kind: 'stdio' };
  const colon = text.indexOf(':');
  if (text.startsWith('/') || text.startsWith('.') || colon <= 0) {
    if (text === '') throw new UsageError('cp: an empty path');
    return { kind: 'local', path: text };
  }
  const path = text.slice(colon + 1);
  if (path === '') throw new UsageError(`cp: "${text}": give the path inside the container, e.g. ${text}/etc/motd`);
  return { kind: 'container', ref: text.slice(0, colon), path: path.startsWith('/') ? path : `/${path}` };
}

interface CpOptions {
  quiet?: boolean;
}

export function defineCp(command: Command, contextOf: ContextOf): Command {
  return command
    .description("copy a file into a container or out of it (in any state but removed)")
    .argument('<source>', 'a local file, - for stdin, or container:path')
    .argument('<destination>', 'container:path, or a local file or directory, - for stdout')
    .option('-q, --quiet', 'no "Successfully copied" line on stderr')
    .addHelpText(
      'after',
      '\nExactly one side is container:path (the container by id, unique id prefix or name).\nExamples:\n  strata cp app.conf web:/etc/app.conf\n  strata cp web:/etc/motd .\n  echo hello | strata cp - web:/greeting\n  strata cp web:/var/log/app.log - | tail',
    )
    .action(async (sourceText: string, destinationText: string, options: CpOptions, cmd: Command) => {
      const source = parseCopyEnd(sourceText);
      const destination = parseCopyEnd(destinationText);
      if (source.kind === 'container' && destination.kind === 'container') {
        throw new UsageError('cp: copying from one container to another is not supported: copy to a local file first');
      }
      const ctx = contextOf(cmd);
      if (destination.kind === 'container') return copyIn(ctx, source, destination, options);
      if (source.kind === 'container') return copyOut(ctx, source, destination, options);
      throw new UsageError('cp: one side must be a container path (container:path), e.g. strata cp app.conf web:/etc/app.conf');
    });
}

/** A local file (with its permission bits) or stdin, PUT into the container as it is read. */
async function copyIn(ctx: Context, source: CopyEnd, destination: CopyEnd & { kind: 'container' }, options: CpOptions): Promise<void> {
  let path = destination.path;
  let body: string | UploadStream;
  let mode: string | undefined;
  if (source.kind === 'local') {
    const stats = await stat(source.path).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`${source.path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
    });
    if (stats.isDirectory()) throw new UsageError(`${source.path}: a directory; cp copies one file at a time`);
    if (!stats.isFile()) throw new UsageError(`${source.path}: not a regular file`);
    mode = (stats.mode & 0o7777).toString(8).padStart(3, '0');
    // `cp app.conf web:/etc/` puts it in /etc under its own name, as cp(1) does.
    if (path.endsWith('/')) path = `${path}${basename(source.path)}`;
    body = source.path;
  } else {
    if (path.endsWith('/')) throw new UsageError(`cp: stdin has no file name: give one, e.g. ${destination.ref}:${path}name`);
    const stdin = ctx.io.stdin?.();
    if (!stdin || stdin.isTTY) throw new UsageError('cp: - reads the file from stdin, and stdin is a terminal: pipe or redirect the file into it');
    body = { chunks: stdin as AsyncIterable<Uint8Array>, size: null };
  }
  let bytes = 0;
  const reply = await ctx.client.upload<ContainerReply>(
    `${containerPath(destination.ref)}/files`,
    { path, mode },
    body,
    (sent) => (bytes = sent),
    { method: 'PUT', contentType: 'application/octet-stream' },
  );
  if (ctx.json) return ctx.printJson(reply.container);
  if (!options.quiet) ctx.note(`Successfully copied ${humanSize(bytes)} to ${destination.ref}:${path}`);
}

/** The container's file to stdout, or to a local file that appears only once complete. */
async function copyOut(ctx: Context, source: CopyEnd & { kind: 'container' }, destination: CopyEnd, options: CpOptions): Promise<void> {
  let output = destination.kind === 'local' ? destination.path : null;
  if (output !== null) {
    const existing = await stat(output).catch(() => null);
    // `cp web:/etc/motd .` writes ./motd, as cp(1) does.
    if (existing?.isDirectory()) output = join(output, posix.basename(source.path));
    else if (/[/\\]$/.test(output)) throw new UsageError(`${output}: no such directory`);
  }
  const content = await ctx.client.download(`${containerPath(source.ref)}/files`, { path: source.path });
  if (output === null) {
    await writeAll(content, ctx.io.stdout);
    return;
  }
  const bytes = await writeAtomically(content, output);
  if (ctx.json) return ctx.printJson({ source: `${source.ref}:${source.path}`, output, bytes });
  if (!options.quiet) ctx.note(`Successfully copied ${humanSize(bytes)} to ${output}`);
}
