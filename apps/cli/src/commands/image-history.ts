/** `strata history` / `strata image history`: one row per history entry, like `docker history`. */
import type { Command } from 'commander';
import type { ImageHistoryReply, ImageView } from '@strata/api';
import { queryParams, withQueryOptions, type Context, type QueryOptions } from '../context.js';
import { ellipsis, humanSize, timeAgo } from '../human.js';
import { formatTable, shortDigest } from '../table.js';
import { imagePath } from './paths.js';

type ContextOf = (command: Command) => Context;

/** Docker cuts CREATED BY at 45 characters unless --no-trunc. */
const CREATED_BY_WIDTH = 45;

export function defineHistory(command: Command, contextOf: ContextOf): Command {
  return withQueryOptions(
    command
      .description('how an image was made: newest entry first, with the size each layer adds')
      .argument('<image>', 'repo:tag, repo@sha256:…, a digest or an id prefix')
      .option('--no-trunc', 'show the full image id and commands'),
  ).action(async (ref: string, options: QueryOptions & { trunc: boolean }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const query = queryParams(options, ctx.io.now());
    if (ctx.json) return ctx.printJson(await ctx.client.getList<ImageHistoryReply['items'][number]>(`${imagePath(ref)}/history`, query));
    // The image itself, not /history: its id (for the top row) and its history in one consistent answer.
    const image = await ctx.client.get<ImageView>(imagePath(ref), query);
    const now = ctx.io.now();
    const rows = [...image.history].reverse().map((entry, i) => {
      const createdBy = (entry.createdBy ?? '').replaceAll('\t', ' ');
      return [
        // As in Docker: only the top entry is an image of its own; the ones below it are <missing>.
        i === 0 ? (options.trunc ? shortDigest(image.imageId) : image.imageId) : '<missing>',
        timeAgo(entry.created, now),
        options.trunc ? ellipsis(createdBy, CREATED_BY_WIDTH) : createdBy,
        humanSize(entry.size),
        entry.comment,
      ];
    });
    ctx.print(formatTable(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows));
  });
}
