/**
 * `strata image ls-files` and `strata image cat`: an image's files as its container would see them (the
 * union of its layers, whiteouts applied), read by the node without unpacking the image.
 */
import type { Command } from 'commander';
import type { FileEntryView, ImageFilesReply } from '@strata/api';
import type { Context } from '../context.js';
import { modeString } from '../human.js';
import { imagePath } from './paths.js';
import { writeAll } from './output-bytes.js';

type ContextOf = (command: Command) => Context;

/** Paths inside an image are absolute; `etc/motd` means `/etc/motd`. */
const absolute = (path: string): string => (path.startsWith('/') ? path : `/${path}`);

/** `drwxr-xr-x  0/0   4096  /etc`, `lrwxrwxrwx  0/0  7  /bin/sh -> busybox`: `ls -l`'s columns that matter here. */
export function formatFiles(entries: readonly FileEntryView[]): string[] {
  const owner = entries.map((e) => `${e.uid}/${e.gid}`);
  const ownerWidth = Math.max(0, ...owner.map((o) => o.length));
  const sizeWidth = Math.max(0, ...entries.map((e) => String(e.size).length));
  return entries.map((e, i) => {
    const link = e.linkname === null ? '' : e.type === 'hardlink' ? ` link to ${e.linkname}` : ` -> ${e.linkname}`;
    return `${modeString(e.type, e.mode)}  ${owner[i]!.padEnd(ownerWidth)}  ${String(e.size).padStart(sizeWidth)}  ${e.path}${link}`;
  });
}

export function defineLsFiles(command: Command, contextOf: ContextOf): Command {
  return command
    .description("list an image's files (the union of its layers): mode, owner, size, path")
    .argument('<image>', 'repo:tag, repo@sha256:…, a digest or an id prefix')
    .argument('[path]', 'a directory (or file) in the image', '/')
    .option('-r, --recursive', 'everything below the path, not only its direct entries')
    .action(async (ref: string, path: string, options: { recursive?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const reply = await ctx.client.getList<FileEntryView, ImageFilesReply>(`${imagePath(ref)}/files`, {
        path: absolute(path),
        recursive: options.recursive === true,
      });
      if (ctx.json) return ctx.printJson(reply);
      for (const line of formatFiles(reply.items)) ctx.print(line);
    });
}

export function defineCat(command: Command, contextOf: ContextOf): Command {
  return command
    .description("write a file of an image to stdout, byte for byte")
    .argument('<image>', 'repo:tag, repo@sha256:…, a digest or an id prefix')
    .argument('<path>', 'the file, e.g. /etc/os-release')
    .action(async (ref: string, path: string, _options: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const content = await ctx.client.download(`${imagePath(ref)}/content`, { path: absolute(path) });
      await writeAll(content, ctx.io.stdout);
    });
}
