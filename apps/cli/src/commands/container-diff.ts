/** `strata diff`: what the container changed relative to its image, like `docker diff`. */
import type { Command } from 'commander';
import type { DiffEntryView } from '@strata/api';
import type { Context } from '../context.js';
import { ProtocolError } from '../errors.js';
import { containerPath } from './paths.js';

type ContextOf = (command: Command) => Context;

export function defineDiff(command: Command, contextOf: ContextOf): Command {
  return command
    .description('files and directories the container added (A), changed (C) or deleted (D), relative to its image')
    .argument('<container>', 'id, unique id prefix or name')
    .action(async (ref: string, _options: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const path = `${containerPath(ref)}/changes`;
      const changes = await ctx.client.get<DiffEntryView[]>(path);
      if (!Array.isArray(changes)) throw new ProtocolError(`GET ${path} answered without an array: the node does not follow the API contract`);
      if (ctx.json) return ctx.printJson(changes.map(({ kind, path }) => ({ kind, path })));
      for (const change of changes) ctx.print(`${change.kind} ${change.path}`);
    });
}
