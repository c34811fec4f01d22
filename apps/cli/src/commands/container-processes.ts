/** `strata exec`, `strata top` and `strata wait`: a container's processes, as their Docker namesakes. */
import type { Command } from 'commander';
import type { ExecReply, ExecRequest, TopReply, WaitReply } from '@strata/api';
import type { Context } from '../context.js';
import { ExitStatus, shellExitCode, UsageError } from '../errors.js';
import { formatTable } from '../table.js';
import { takesTrailingCommand } from '../trailing-command.js';
import { eachTarget } from './each-target.js';
import { containerPath } from './paths.js';

type ContextOf = (command: Command) => Context;

interface ExecOptions {
  env: string[];
  workdir?: string;
  user?: string;
}

export function defineExec(command: Command, contextOf: ContextOf): Command {
  return takesTrailingCommand(
    command
      .description("run a second process in a running container; prints its output and exits with its exit code")
      .argument('<container>', 'id, unique id prefix or name')
      .argument('<command...>', 'the command and its arguments; flags after the container belong to it')
      .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[])
      .option('-w, --workdir <dir>', 'working directory inside the container')
      .option('-u, --user <user[:group]>', 'user (name or uid) to run as')
      .addHelpText('after', "\nExamples:\n  strata exec web cat /etc/hostname\n  strata exec -u nobody web sh -c 'id -u'"),
  ).action(async (ref: string, args: string[], options: ExecOptions, cmd: Command) => {
    const ctx = contextOf(cmd);
    for (const spec of options.env) if (!/^[^=]+=/.test(spec)) throw new UsageError(`-e "${spec}": expected KEY=VALUE`);
    const body: ExecRequest = {
      cmd: args,
      env: options.env.length > 0 ? options.env : undefined,
      workingDir: options.workdir,
      user: options.user,
    };
    // The answer comes when the process ends, however long that takes (Ctrl-C gives up waiting).
    const reply = await ctx.client.invoke<ExecReply>('POST', `${containerPath(ref)}/exec`, body, undefined, { timeoutMs: Infinity });
    if (ctx.json) ctx.printJson(reply);
    else {
      ctx.io.stdout.write(reply.stdout);
      ctx.io.stderr.write(reply.stderr);
    }
    const code = shellExitCode(reply.exitCode);
    if (code !== 0) throw new ExitStatus(code);
  });
}

export function defineTop(command: Command, contextOf: ContextOf): Command {
  return command
    .description("the processes running in a container")
    .argument('<container>', 'id, unique id prefix or name')
    .action(async (ref: string, _options: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const reply = await ctx.client.get<TopReply>(`${containerPath(ref)}/top`);
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(formatTable(reply.titles, reply.processes));
    });
}

export function defineWait(command: Command, contextOf: ContextOf): Command {
  return command
    .description('wait until containers exit; print their exit codes (with --json: one {exitCode, reason} line each)')
    .argument('<container...>', 'ids, unique id prefixes or names')
    .action(async (refs: string[], _options: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const waited = await eachTarget(ctx, refs, async (ref) => {
        const reply = await ctx.client.invoke<WaitReply>('POST', `${containerPath(ref)}/wait`, undefined, undefined, { timeoutMs: Infinity });
        // One line per container as soon as it exits (NDJSON with --json), so a script sees each one.
        ctx.print(ctx.json ? JSON.stringify(reply) : String(reply.exitCode));
        return reply;
      });
      waited.done();
    });
}
