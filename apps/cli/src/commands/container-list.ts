/** `strata ps` (`container ls`) and `strata inspect` (`container inspect`), as their Docker namesakes. */
import type { Command } from 'commander';
import type { ContainerView, ListReply } from '@strata/api';
import { queryParams, withQueryOptions, type Context, type QueryOptions } from '../context.js';
import { timeAgo } from '../human.js';
import { formatTable } from '../table.js';
import { eachTarget } from './each-target.js';
import { commandCell, shortId, statusText } from './container-format.js';
import { matchesContainerFilters, needsAll, parseContainerFilters } from './container-filters.js';
import { containerPath } from './paths.js';
import { noteAsOf } from './repo.js';

type ContextOf = (command: Command) => Context;

interface PsOptions extends QueryOptions {
  all?: boolean;
  quiet?: boolean;
  trunc: boolean;
  filter: string[];
}

/** Newest first, as `docker ps` lists them. */
const byCreatedDesc = (a: ContainerView, b: ContainerView): number => Date.parse(b.createdAt) - Date.parse(a.createdAt) || a.id.localeCompare(b.id);

export function definePs(command: Command, contextOf: ContextOf): Command {
  return withQueryOptions(
    command
      .description('list containers: running and paused ones, all of them with -a')
      .option('-a, --all', 'also created and exited containers')
      .option('-q, --quiet', 'only container ids')
      .option('--no-trunc', 'show ids and commands in full')
      .option(
        '-f, --filter <key=value>',
        'status=created|running|paused|exited, name=<regexp>, ancestor=<image>, id=<prefix>, label=<key[=value]>, exited=<code> (repeatable)',
        (value: string, previous: string[]) => [...previous, value],
        [] as string[],
      ),
  ).action(async (options: PsOptions, cmd: Command) => {
    const ctx = contextOf(cmd);
    const filters = parseContainerFilters(options.filter);
    const query = { all: options.all === true || needsAll(filters), ...queryParams(options, ctx.io.now()) };
    const reply = await ctx.client.getList<ContainerView>('/containers', query);
    const containers = reply.items.filter((c) => matchesContainerFilters(filters, c)).sort(byCreatedDesc);
    if (ctx.json) return ctx.printJson({ ...reply, items: containers } satisfies ListReply<ContainerView>);
    const id = (c: ContainerView) => (options.trunc ? shortId(c.id) : c.id);
    if (options.quiet) {
      for (const c of containers) ctx.print(id(c));
      return;
    }
    const now = ctx.io.now();
    const rows = containers.map((c) => [id(c), c.image.reference, commandCell(c, options.trunc), timeAgo(c.createdAt, now), statusText(c, now), c.name]);
    ctx.print(formatTable(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES'], rows));
    noteAsOf(ctx, options, reply);
  });
}

export function defineInspect(command: Command, contextOf: ContextOf): Command {
  return withQueryOptions(
    command
      .description('everything known about containers, as a JSON array (like docker inspect)')
      .argument('<container...>', 'ids, unique id prefixes or names'),
  ).action(async (refs: string[], options: QueryOptions, cmd: Command) => {
    const ctx = contextOf(cmd);
    const query = queryParams(options, ctx.io.now());
    const found = await eachTarget(ctx, refs, (ref) => ctx.client.get<ContainerView>(containerPath(ref), query));
    // Always JSON, --json or not: an inspection is for reading with jq as much as with eyes.
    ctx.printJson(found.results);
    found.done();
  });
}
