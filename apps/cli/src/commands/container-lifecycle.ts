/**
 * `strata start|stop|restart|kill|pause|unpause|rm <container>...` and `strata rename`: Docker's verbs,
 * each over several containers, each printed by the name it was given as it is done.
 */
import type { Command } from 'commander';
import type { ContainerReply, ContainerView } from '@strata/api';
import { parseSeconds } from '../args.js';
import type { Query, RequestOptions } from '../client.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { eachTarget } from './each-target.js';
import { containerPath } from './paths.js';

type ContextOf = (command: Command) => Context;

interface Change {
  method: 'POST' | 'DELETE';
  /** Below /containers/{ref}: '/stop', or '' for the container itself. */
  path: string;
  query?: Query;
  request?: RequestOptions;
}

/**
 * One change per container, in order, going on past a refusal (a 4xx: no such container, the wrong
 * state) as Docker does. --json prints the containers as they are after the change.
 */
async function changeEach(ctx: Context, refs: readonly string[], change: Change): Promise<void> {
  const changed = await eachTarget(ctx, refs, async (ref) => {
    const reply = await ctx.client.invoke<ContainerReply>(change.method, `${containerPath(ref)}${change.path}`, undefined, change.query, change.request);
    if (!ctx.json) ctx.print(ref);
    return reply.container;
  });
  if (ctx.json) ctx.printJson(changed.results satisfies ContainerView[]);
  changed.done();
}

/**
 * A stop lasts as long as the process takes to end: up to -t seconds before the SIGKILL, beyond the
 * usual limit. Without -t the container's own stop timeout applies, which only the node knows, and
 * the node bounds the wait with it: no limit here.
 */
const stopRequest = (time: string | undefined): RequestOptions =>
  time === undefined ? { timeoutMs: Infinity } : { extraMs: parseSeconds(time, '-t') * 1000 };

const CONTAINERS = ['<container...>', 'ids, unique id prefixes or names'] as const;

/** Docker accepts `-s HUP` as well as `-s SIGHUP`; the node is sent the full name (numbers as they are). */
export function signalName(text: string): string {
  if (/^\d+$/.test(text)) return text;
  if (!/^[A-Za-z][A-Za-z0-9+-]*$/.test(text)) throw new UsageError(`--signal "${text}": expected a signal name (SIGHUP, HUP) or number`);
  const upper = text.toUpperCase();
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
}

export function defineStart(command: Command, contextOf: ContextOf): Command {
  return command
    .description('start created or stopped containers')
    .argument(...CONTAINERS)
    .action(async (refs: string[], _options: unknown, cmd: Command) => changeEach(contextOf(cmd), refs, { method: 'POST', path: '/start' }));
}

export function defineStop(command: Command, contextOf: ContextOf): Command {
  return command
    .description('stop running containers: the stop signal (SIGTERM by default), then SIGKILL after the timeout')
    .argument(...CONTAINERS)
    .option('-t, --time <seconds>', "seconds to wait before SIGKILL (default: the container's stop timeout)")
    .action(async (refs: string[], options: { time?: string }, cmd: Command) =>
      changeEach(contextOf(cmd), refs, { method: 'POST', path: '/stop', query: { t: options.time }, request: stopRequest(options.time) }),
    );
}

export function defineRestart(command: Command, contextOf: ContextOf): Command {
  return command
    .description('stop (if running) and start containers again')
    .argument(...CONTAINERS)
    .option('-t, --time <seconds>', "seconds to wait before SIGKILL (default: the container's stop timeout)")
    .action(async (refs: string[], options: { time?: string }, cmd: Command) =>
      changeEach(contextOf(cmd), refs, { method: 'POST', path: '/restart', query: { t: options.time }, request: stopRequest(options.time) }),
    );
}

export function defineKill(command: Command, contextOf: ContextOf): Command {
  return command
    .description('send a signal to running containers (SIGKILL by default)')
    .argument(...CONTAINERS)
    .option('-s, --signal <signal>', 'the signal, e.g. SIGHUP, HUP or 1')
    .action(async (refs: string[], options: { signal?: string }, cmd: Command) => {
      const signal = options.signal === undefined ? undefined : signalName(options.signal);
      await changeEach(contextOf(cmd), refs, { method: 'POST', path: '/kill', query: { signal } });
    });
}

export function definePause(command: Command, contextOf: ContextOf): Command {
  return command
    .description('freeze every process of running containers')
    .argument(...CONTAINERS)
    .action(async (refs: string[], _options: unknown, cmd: Command) => changeEach(contextOf(cmd), refs, { method: 'POST', path: '/pause' }));
}

export function defineUnpause(command: Command, contextOf: ContextOf): Command {
  return command
    .description('let the processes of paused containers run again')
    .argument(...CONTAINERS)
    .action(async (refs: string[], _options: unknown, cmd: Command) => changeEach(contextOf(cmd), refs, { method: 'POST', path: '/unpause' }));
}

export function defineRemove(command: Command, contextOf: ContextOf): Command {
  return command
    .description('remove containers and their writable layers (refused while running, unless --force kills them first)')
    .argument(...CONTAINERS)
    .option('-f, --force', 'kill a running container first')
    .action(async (refs: string[], options: { force?: boolean }, cmd: Command) =>
      changeEach(contextOf(cmd), refs, { method: 'DELETE', path: '', query: { force: options.force === true } }),
    );
}

export function defineRename(command: Command, contextOf: ContextOf): Command {
  return command
    .description('give a container a new name')
    .argument('<container>', 'id, unique id prefix or name')
    .argument('<new-name>', 'the new name')
    .action(async (ref: string, name: string, _options: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const reply = await ctx.client.invoke<ContainerReply>('POST', `${containerPath(ref)}/rename`, undefined, { name });
      // Like `docker rename`, silent on success.
      if (ctx.json) ctx.printJson(reply.container);
    });
}
