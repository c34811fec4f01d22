/** `strata create` and `strata run`, as `docker create` / `docker run` (without a terminal attached). */
import type { Command } from 'commander';
import type { ContainerReply, ContainerView, CreateContainerRequest, WaitReply } from '@strata/api';
import { parseSeconds } from '../args.js';
import type { Context } from '../context.js';
import { ExitStatus, UsageError, shellExitCode } from '../errors.js';
import { takesTrailingCommand } from '../trailing-command.js';
import { printLogs } from './container-logs.js';
import { containerPath } from './paths.js';

type ContextOf = (command: Command) => Context;

export interface CreateOptions {
  name?: string;
  env: string[];
  entrypoint?: string;
  workdir?: string;
  user?: string;
  label: string[];
  hostname?: string;
  restart?: string;
  stopSignal?: string;
  stopTimeout?: string;
  node?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

const RESTART_POLICY = /^(?:no|always|unless-stopped|on-failure(?::\d{1,6})?)$/;

/** The flags `create` and `run` share. */
export function withCreateOptions(command: Command): Command {
  return takesTrailingCommand(
    command
      .argument('<image>', 'repo:tag, repo@sha256:…, a digest or an image id (prefix)')
      .argument('[command...]', "the command and its arguments (replace the image's CMD); flags after the image belong to it")
      .option('--name <name>', 'a name for the container (unique among containers not removed); default: a generated one')
      .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable); KEY alone takes its value from here', collect, [] as string[])
      .option('--entrypoint <command>', "replace the image's ENTRYPOINT (\"\" clears it)")
      .option('-w, --workdir <dir>', 'working directory inside the container')
      .option('-u, --user <user[:group]>', 'user (name or uid) to run as')
      .option('-l, --label <key=value>', 'set a label (repeatable)', collect, [] as string[])
      .option('--hostname <name>', "the container's host name")
      .option('--restart <policy>', 'no, on-failure[:max-retries], always or unless-stopped (default no)')
      .option('--stop-signal <signal>', 'the signal `stop` sends first (default: the image\'s, else SIGTERM)')
      .option('--stop-timeout <seconds>', 'how long `stop` waits before SIGKILL (default 10)')
      .option('--node <id>', 'in a cluster: the node to place it on (default: the scheduler picks one; see strata node ls)'),
  );
}

/**
 * The request for POST /containers. `-e KEY` without a value takes KEY's value from the CLI's own
 * environment and is left out when unset there, as Docker does.
 */
export function createRequest(image: string, command: readonly string[], options: CreateOptions, env: NodeJS.ProcessEnv): CreateContainerRequest {
  if (options.restart !== undefined && !RESTART_POLICY.test(options.restart)) {
    throw new UsageError(`--restart "${options.restart}": use no, on-failure, on-failure:N, always or unless-stopped`);
  }
  const environment = options.env.flatMap((spec) => {
    if (spec.startsWith('=')) throw new UsageError(`-e "${spec}": the variable has no name`);
    if (spec.includes('=')) return [spec];
    const value = env[spec];
    return value === undefined ? [] : [`${spec}=${value}`];
  });
  const labels = Object.fromEntries(
    options.label.map((spec) => {
      const eq = spec.indexOf('=');
      if (eq === 0) throw new UsageError(`--label "${spec}": the label has no key`);
      return eq < 0 ? [spec, ''] : [spec.slice(0, eq), spec.slice(eq + 1)];
    }),
  );
  return {
    image,
    name: options.name,
    cmd: command.length > 0 ? [...command] : undefined,
    entrypoint: options.entrypoint === undefined ? undefined : options.entrypoint === '' ? [] : [options.entrypoint],
    env: environment.length > 0 ? environment : undefined,
    workingDir: options.workdir,
    user: options.user,
    labels: options.label.length > 0 ? labels : undefined,
    hostname: options.hostname,
    restart: options.restart,
    stopSignal: options.stopSignal,
    stopTimeout: options.stopTimeout === undefined ? undefined : parseSeconds(options.stopTimeout, '--stop-timeout'),
    node: options.node,
  };
}

async function createContainer(ctx: Context, image: string, command: string[], options: CreateOptions): Promise<ContainerView> {
  const body = createRequest(image, command, options, ctx.io.env);
  const reply = await ctx.client.invoke<ContainerReply>('POST', '/containers', body);
  return reply.container;
}

export function defineCreate(command: Command, contextOf: ContextOf): Command {
  return withCreateOptions(command.description('create a container from an image, without starting it; prints its id')).action(
    async (image: string, args: string[], options: CreateOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      const container = await createContainer(ctx, image, args, options);
      if (ctx.json) return ctx.printJson(container);
      ctx.print(container.id);
    },
  );
}

interface RunOptions extends CreateOptions {
  detach?: boolean;
  rm?: boolean;
}

export function defineRun(command: Command, contextOf: ContextOf): Command {
  return withCreateOptions(
    command
      .description("create and start a container; without -d, print its output and exit with its exit code")
      .option('-d, --detach', 'start it and print its id, without waiting')
      .option('--rm', 'remove the container once it has exited (not with -d)')
      .addHelpText('after', "\nExamples:\n  strata run busybox:latest echo hello\n  strata run -d --name web --restart always app:1.0\n  strata run --rm busybox sh -c 'ls -l /etc'"),
  ).action(async (image: string, args: string[], options: RunOptions, cmd: Command) => {
    const ctx = contextOf(cmd);
    if (options.detach && options.rm) throw new UsageError('--rm needs the CLI to wait for the exit: it cannot be combined with -d');
    const created = await createContainer(ctx, image, args, options);
    const ref = created.id;
    const started = await ctx.client.invoke<ContainerReply>('POST', `${containerPath(ref)}/start`);
    if (options.detach) {
      if (ctx.json) return ctx.printJson(started.container);
      return ctx.print(ref);
    }
    // Its output as it comes (the answer ends when the container exits), then its exit code. With
    // --json the output is left to `strata logs`: stdout is the container's final state.
    if (!ctx.json) await printLogs(ctx, ref, { follow: true }, false);
    const exit = await ctx.client.invoke<WaitReply>('POST', `${containerPath(ref)}/wait`, undefined, undefined, { timeoutMs: Infinity });
    if (options.rm) {
      const removed = await ctx.client.invoke<ContainerReply>('DELETE', containerPath(ref));
      if (ctx.json) ctx.printJson(removed.container);
    } else if (ctx.json) {
      ctx.printJson(await ctx.client.get<ContainerView>(containerPath(ref)));
    }
    const code = shellExitCode(exit.exitCode);
    if (code !== 0) throw new ExitStatus(code);
  });
}
