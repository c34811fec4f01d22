/** `strata logs`: a container's output, its stdout lines on stdout and its stderr lines on stderr. */
import { once } from 'node:events';
import type { Command } from 'commander';
import type { LogLineView } from '@strata/api';
import { parseLogSince, parseTail } from '../args.js';
import type { Query } from '../client.js';
import type { Context } from '../context.js';
import { containerPath } from './paths.js';

type ContextOf = (command: Command) => Context;

interface LogsOptions {
  follow?: boolean;
  since?: string;
  tail?: string;
  timestamps?: boolean;
}

/** Writes one piece of text, waiting when the reader is slower than the container's output. */
async function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/**
 * Streams the logs answer to the terminal as it arrives. Following lasts as long as the container
 * runs, so no time limit applies (Ctrl-C ends it). With --json: the lines as the node sent them (NDJSON
 * on stdout, both streams).
 */
export async function printLogs(ctx: Context, ref: string, query: Query, timestamps: boolean): Promise<void> {
  const lines = ctx.client.lines<LogLineView>(`${containerPath(ref)}/logs`, query, query.follow ? { timeoutMs: Infinity } : {});
  for await (const entry of lines) {
    if (ctx.json) {
      await write(ctx.io.stdout, `${JSON.stringify(entry)}\n`);
      continue;
    }
    const out = entry.stream === 'stderr' ? ctx.io.stderr : ctx.io.stdout;
    await write(out, `${timestamps ? `${entry.time} ` : ''}${entry.line}\n`);
  }
}

export function defineLogs(command: Command, contextOf: ContextOf): Command {
  return command
    .description("a container's output: stdout lines on stdout, stderr lines on stderr (with --json: NDJSON lines)")
    .argument('<container>', 'id, unique id prefix or name')
    .option('-f, --follow', 'keep printing new lines until the container exits (Ctrl-C to stop)')
    .option('--since <when>', 'only lines from this ISO time or duration ago (10m, 2h)')
    .option('-n, --tail <n>', 'only the last n lines (or all)')
    .option('-t, --timestamps', 'prefix each line with its time')
    .action(async (ref: string, options: LogsOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      const query: Query = {
        since: options.since === undefined ? undefined : parseLogSince(options.since, ctx.io.now()),
        tail: options.tail === undefined ? undefined : parseTail(options.tail),
        follow: options.follow === true,
      };
      await printLogs(ctx, ref, query, options.timestamps === true);
    });
}
