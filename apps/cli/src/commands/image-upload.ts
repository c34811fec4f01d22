/** `strata import` and `strata load`: archives streamed to the node, as `docker import` / `docker load`. */
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { ImportImageReply, LoadImageReply } from '@strata/api';
import { parseTagRef } from '../args.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { isDirectory, layoutUpload } from '../layout-tar.js';
import { shortDigest } from '../table.js';
import type { UploadStream } from '../upload-source.js';
import { withUploadProgress } from './upload-progress.js';

type ContextOf = (command: Command) => Context;

/** `repo[:tag]` → `repo:tag` (latest when omitted, as Docker does), checked before anything is sent. */
const tagParam = (text: string | undefined): string | undefined => {
  if (text === undefined) return undefined;
  const { name, tag } = parseTagRef(text);
  return `${name}:${tag}`;
};

/** The archive on stdin; a terminal there means the user forgot to give one. */
function stdinUpload(ctx: Context, hint: string): UploadStream {
  const stdin = ctx.io.stdin?.();
  if (!stdin || stdin.isTTY) throw new UsageError(`no archive given and stdin is a terminal: ${hint}`);
  return { chunks: stdin as AsyncIterable<Uint8Array>, size: null };
}

export function defineImport(command: Command, contextOf: ContextOf): Command {
  return command
    .description('create a one-layer image from a root filesystem tar (plain or gzip), like docker import')
    .argument('<file>', 'the tar or tar.gz; - reads it from stdin')
    .argument('[repo:tag]', 'tag the new image; without :tag, latest')
    .option('-m, --message <text>', 'a comment for the image history')
    .option('-q, --quiet', 'no progress on stderr')
    .addHelpText('after', '\nExamples:\n  strata import rootfs.tar.gz app:1.0\n  gzip -dc rootfs.tar.gz | strata import - app:1.0 -m "from the nightly build"')
    .action(async (file: string, tagText: string | undefined, options: { message?: string; quiet?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const tag = tagParam(tagText);
      const source = file === '-' ? stdinUpload(ctx, 'strata import - < rootfs.tar') : file;
      const query = { tag, source: file === '-' ? undefined : basename(file), message: options.message };
      const reply = await withUploadProgress(ctx, 'import', options.quiet === true, (onProgress) =>
        ctx.client.upload<ImportImageReply>('/images/import', query, source, onProgress),
      );
      if (ctx.json) return ctx.printJson(reply);
      const id = shortDigest(reply.image.imageId);
      ctx.print(`imported ${id}${tag ? ` as ${tag}` : ' (untagged)'} at position ${reply.position}`);
    });
}

export function defineLoad(command: Command, contextOf: ContextOf): Command {
  return command
    .description('load images from an OCI image layout (directory or tar) or a docker save tarball, like docker load')
    .option('-i, --input <file|dir>', 'the archive (tar or tar.gz) or an OCI image layout directory; default: stdin')
    .option('-t, --tag <repo:tag>', 'tag the loaded image (the archive must hold exactly one)')
    .option('-q, --quiet', 'no progress on stderr')
    .addHelpText('after', '\nExamples:\n  strata load -i busybox.tar\n  strata load -i ./layout --tag busybox:1.36\n  strata load < busybox.tar')
    .action(async (options: { input?: string; tag?: string; quiet?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const tag = tagParam(options.tag);
      let source: string | UploadStream;
      if (options.input === undefined) source = stdinUpload(ctx, 'strata load -i image.tar, or strata load < image.tar');
      else if (await isDirectory(options.input)) source = await layoutUpload(options.input);
      else source = options.input;
      const reply = await withUploadProgress(ctx, 'load', options.quiet === true, (onProgress) =>
        ctx.client.upload<LoadImageReply>('/images/load', { tag }, source, onProgress),
      );
      if (ctx.json) return ctx.printJson(reply);
      for (const { image, refName } of reply.images) {
        // The node tags an image with the archive's ref name when it is a full repo:tag (an OCI layout's
        // bare "latest" is not); --tag replaces it.
        const named = tag ?? (refName && refName.includes(':') && !refName.includes('@') ? refName : null);
        ctx.print(named ? `Loaded image: ${named}` : `Loaded image ID: ${image.imageId}`);
      }
    });
}
