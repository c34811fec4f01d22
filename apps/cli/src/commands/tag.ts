/** `strata tag <image> <repo>:<tag>` and `strata untag <repo>:<tag>`, as `docker tag` / `docker rmi`. */
import type { Command } from 'commander';
import type { TagImageRequest } from '@strata/api';
import { parseRepoRef, parseTagRef, parseTagSource } from '../args.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { shortDigest } from '../table.js';
import { tagPath } from './paths.js';
import { atPosition } from './repo.js';

type ContextOf = (command: Command) => Context;

// The node also takes `{ image: <any reference> }`; @strata/api's TagImageRequest does not say so yet.

export function registerTag(program: Command, contextOf: ContextOf): void {
  program
    .command('tag')
    .description('point a tag at an image (set it, or move it: every move is kept in the history)')
    .argument('<source>', 'the image: repo:tag, repo@sha256:…, a digest, an image id or a unique id prefix (4+ hex)')
    .argument('<repo:tag>', 'the tag to set; without :tag, latest (as docker tag does)')
    .addHelpText(
      'after',
      '\nExamples:\n  strata tag app:1.0 app:latest\n  strata tag 3f2a1b4c app:1.0\n  strata tag sha256:3f2a…(64 hex) app:1.0\n  strata tag app@sha256:3f2a…(64 hex) app:stable',
    )
    .action(async (sourceText: string, targetText: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command);
      const source = parseTagSource(sourceText);
      const target = parseTagRef(targetText);
      const body: TagImageRequest = source;
      const reply = await ctx.client.command('PUT', tagPath(target.name, target.tag), body);
      if (ctx.json) return ctx.printJson(reply);
      const what = shortDigest(source.image);
      const ref = `${target.name}:${target.tag}`;
      if (reply.events.length === 0) return ctx.print(`${ref} already points to ${what}: nothing changed`);
      const created = reply.events.includes('RepositoryCreated') ? ` (created repository ${target.name}, private)` : '';
      ctx.print(`tagged ${ref} -> ${what}${created} ${atPosition(reply)}`);
    });

  program
    .command('untag')
    .description('remove a tag (the move to nothing is kept in the history)')
    .argument('<repo:tag>', 'the tag to remove; the tag must be named')
    .action(async (refText: string, _options: unknown, command: Command) => {
      const ctx = contextOf(command);
      const ref = parseRepoRef(refText);
      // Unlike `docker rmi`, no implicit :latest here: removing a tag nobody named is a surprise.
      if (ref.tag === null) throw new UsageError(`"${refText}": name the tag to remove, e.g. ${refText}:latest`);
      const reply = await ctx.client.command('DELETE', tagPath(ref.name, ref.tag));
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(`untagged ${ref.name}:${ref.tag} ${atPosition(reply)}`);
    });
}
