/** `strata images` (`image ls`) and `strata image inspect`, as their Docker namesakes. */
import type { Command } from 'commander';
import type { ImagesReply, ImageView } from '@strata/api';
import { queryParams, withQueryOptions, type Context, type QueryOptions } from '../context.js';
import { humanSize, timeAgo } from '../human.js';
import { formatTable, shortDigest } from '../table.js';
import { eachTarget } from './each-target.js';
import { imagePath } from './paths.js';
import { noteAsOf } from './repo.js';

type ContextOf = (command: Command) => Context;

interface ListOptions extends QueryOptions {
  all?: boolean;
  digests?: boolean;
  trunc: boolean;
  quiet?: boolean;
}

/** `repo:tag` → [repo, tag], split as Docker does: a registry port (`host:5000/app`) is not a tag. */
export function splitTag(ref: string): [string, string] {
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, '<none>'];
}

/**
 * Docker hides intermediate images (untagged parents of other images) unless --all: they are part of
 * another image, not something anyone asked for by name.
 */
function visible(images: readonly ImageView[], all: boolean): ImageView[] {
  if (all) return [...images];
  const parents = new Set(images.map((i) => i.parent).filter((p): p is string => p !== null));
  return images.filter((i) => i.tags.length > 0 || !(parents.has(i.imageId) || parents.has(i.manifestDigest)));
}

/** Newest first, as `docker images` lists them; images without a creation time last. */
const byCreatedDesc = (a: ImageView, b: ImageView): number =>
  (b.created ? Date.parse(b.created) : -Infinity) - (a.created ? Date.parse(a.created) : -Infinity) || a.imageId.localeCompare(b.imageId);

export function defineImages(command: Command, contextOf: ContextOf): Command {
  return withQueryOptions(
    command
      .description('list images: one row per tag, untagged ones as <none>')
      .option('-a, --all', 'also intermediate images (untagged parents of other images)')
      .option('--digests', 'show manifest digests')
      .option('--no-trunc', 'show image ids in full')
      .option('-q, --quiet', 'only image ids'),
  ).action(async (options: ListOptions, cmd: Command) => {
    const ctx = contextOf(cmd);
    const reply = await ctx.client.getList<ImageView, ImagesReply>('/images', queryParams(options, ctx.io.now()));
    if (ctx.json) return ctx.printJson(reply);
    const images = visible(reply.items, options.all === true).sort(byCreatedDesc);
    const id = (image: ImageView) => (options.trunc ? shortDigest(image.imageId) : image.imageId);
    if (options.quiet) {
      for (const imageId of new Set(images.map(id))) ctx.print(imageId);
      return;
    }
    const now = ctx.io.now();
    const rows = images.flatMap((image) => {
      const refs = image.tags.length > 0 ? [...image.tags].sort().map(splitTag) : [['<none>', '<none>']];
      return refs.map(([repository, tag]) => [
        repository,
        tag,
        ...(options.digests ? [image.manifestDigest] : []),
        id(image),
        timeAgo(image.created, now),
        humanSize(image.size),
      ]);
    });
    const headers = ['REPOSITORY', 'TAG', ...(options.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
    ctx.print(formatTable(headers, rows));
    const count = reply.items.length;
    ctx.print(`${count} image${count === 1 ? '' : 's'}, total size ${humanSize(reply.totalSize)} (shared layers counted once)`);
    noteAsOf(ctx, options, reply);
  });
}

export function defineInspect(command: Command, contextOf: ContextOf): Command {
  return withQueryOptions(
    command
      .description('everything known about images, as a JSON array (like docker image inspect)')
      .argument('<image...>', 'repo:tag, repo@sha256:…, a digest or an id prefix'),
  ).action(async (refs: string[], options: QueryOptions, cmd: Command) => {
    const ctx = contextOf(cmd);
    const query = queryParams(options, ctx.io.now());
    const found = await eachTarget(ctx, refs, (ref) => ctx.client.get<ImageView>(imagePath(ref), query));
    // Always JSON, --json or not: an inspection is for reading with jq as much as with eyes.
    ctx.printJson(found.results);
    found.done();
  });
}
