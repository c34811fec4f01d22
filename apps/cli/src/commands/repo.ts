/** `strata repo create|ls|rm|visibility|history|tags`. */
import type { Command } from 'commander';
import type { CommandReply, RepositoryView, TagMoveView, TagView, Visibility } from '@strata/api';
import { parseRepoRef } from '../args.js';
import { queryParams, withQueryOptions, type Context, type QueryOptions } from '../context.js';
import { UsageError } from '../errors.js';
import { formatTable, shortDigest } from '../table.js';
import { repositoryPath } from './paths.js';

type ContextOf = (command: Command) => Context;

/** "…at position N": the position is what a later `--min-position` or `--at` refers to. */
export const atPosition = (reply: CommandReply): string => `at position ${reply.position}`;

/** An `--at` answer is about the past: say which past, on stderr so stdout stays the table. */
export function noteAsOf(ctx: Context, options: QueryOptions, reply: { position: number }): void {
  if (options.at !== undefined) ctx.note(`as of position ${reply.position}`);
}

export function registerRepo(program: Command, contextOf: ContextOf): void {
  const repo = program.command('repo').description('create, list and remove repositories; show their tags and tag history');

  repo
    .command('create')
    .description('create a repository (private unless --public)')
    .argument('<name>', 'repository name, e.g. app or library/nginx')
    .option('--public', 'anyone may pull from it')
    .option('--private', 'only its owners may pull from it (the default)')
    .action(async (name: string, options: { public?: boolean; private?: boolean }, command: Command) => {
      const ctx = contextOf(command);
      if (options.public && options.private) throw new UsageError('--public and --private exclude each other');
      const visibility: Visibility = options.public ? 'public' : 'private';
      const reply = await ctx.client.command('POST', '/repositories', { name, visibility });
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(`created repository ${name} (${visibility}) ${atPosition(reply)}`);
    });

  withQueryOptions(repo.command('ls').description('list repositories'))
    .action(async (options: QueryOptions, command: Command) => {
      const ctx = contextOf(command);
      const reply = await ctx.client.getList<RepositoryView>('/repositories', queryParams(options, ctx.io.now()));
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(
        formatTable(
          ['NAME', 'VISIBILITY', 'TAGS', 'UPDATED', 'POSITION'],
          reply.items.map((r) => [r.name, r.visibility, r.tagCount, r.updatedAt, r.position]),
        ),
      );
      noteAsOf(ctx, options, reply);
    });

  repo
    .command('rm')
    .description('delete a repository (it must have no tags, unless --force)')
    .argument('<name>', 'repository name')
    .option('--force', 'remove its tags too')
    .action(async (name: string, options: { force?: boolean }, command: Command) => {
      const ctx = contextOf(command);
      const reply = await ctx.client.command('DELETE', repositoryPath(name), undefined, { force: options.force === true });
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(`removed repository ${name}${options.force ? ' and its tags' : ''} ${atPosition(reply)}`);
    });

  repo
    .command('visibility')
    .description('make a repository public or private')
    .argument('<name>', 'repository name')
    .argument('<visibility>', 'public or private')
    .action(async (name: string, visibility: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command);
      if (visibility !== 'public' && visibility !== 'private') {
        throw new UsageError(`visibility must be public or private, not "${visibility}"`);
      }
      const reply = await ctx.client.command('PUT', `${repositoryPath(name)}/visibility`, { visibility });
      if (ctx.json) return ctx.printJson(reply);
      if (reply.events.length === 0) ctx.print(`repository ${name} was already ${visibility}: nothing changed`);
      else ctx.print(`repository ${name} is now ${visibility} ${atPosition(reply)}`);
    });

  withQueryOptions(
    repo
      .command('history')
      .description("every move of a repository's tags (or of one tag): when, from, to, by whom")
      .argument('<repo[:tag]>', 'repository, optionally with the tag to show, e.g. app:latest')
      .option('--no-trunc', 'show digests in full'),
  ).action(async (ref: string, options: QueryOptions & { trunc: boolean }, command: Command) => {
    const ctx = contextOf(command);
    const { name, tag } = parseRepoRef(ref);
    const reply = await ctx.client.getList<TagMoveView>(`${repositoryPath(name)}/history`, {
      tag: tag ?? undefined,
      ...queryParams(options, ctx.io.now()),
    });
    if (ctx.json) return ctx.printJson(reply);
    const digest = options.trunc ? shortDigest : (d: string | null) => d ?? '-';
    ctx.print(
      formatTable(
        ['WHEN', 'TAG', 'FROM', 'TO', 'BY', 'POSITION'],
        reply.items.map((m) => [m.at, m.tag, digest(m.from), digest(m.to), m.by, m.position]),
      ),
    );
    noteAsOf(ctx, options, reply);
  });

  withQueryOptions(
    repo
      .command('tags')
      .description("a repository's tags and the image each points to")
      .argument('<repo>', 'repository name')
      .option('--no-trunc', 'show digests in full'),
  ).action(async (name: string, options: QueryOptions & { trunc: boolean }, command: Command) => {
    const ctx = contextOf(command);
    const reply = await ctx.client.getList<TagView>(`${repositoryPath(name)}/tags`, queryParams(options, ctx.io.now()));
    if (ctx.json) return ctx.printJson(reply);
    ctx.print(
      formatTable(
        ['TAG', 'DIGEST', 'UPDATED', 'BY', 'POSITION'],
        reply.items.map((t) => [t.tag, options.trunc ? shortDigest(t.digest) : t.digest, t.updatedAt, t.updatedBy, t.position]),
      ),
    );
    noteAsOf(ctx, options, reply);
  });
}
