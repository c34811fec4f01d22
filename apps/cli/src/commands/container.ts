/**
 * The container commands, under the names Docker gives them: top-level (`strata run`, `strata ps`,
 * `strata rm`…) and grouped under `strata container` (`container ls`, `container rm`, `container history`…).
 */
import type { Command } from 'commander';
import type { Context } from '../context.js';
import { defineCommit } from './container-commit.js';
import { defineCp } from './container-cp.js';
import { defineCreate, defineRun } from './container-create.js';
import { defineDiff } from './container-diff.js';
import { defineContainerHistory } from './container-history.js';
import {
  defineKill,
  definePause,
  defineRemove,
  defineRename,
  defineRestart,
  defineStart,
  defineStop,
  defineUnpause,
} from './container-lifecycle.js';
import { defineInspect, definePs } from './container-list.js';
import { defineLogs } from './container-logs.js';
import { defineExec, defineTop, defineWait } from './container-processes.js';

type ContextOf = (command: Command) => Context;

/** Every command that is both top-level and in the `container` group, by its Docker name. */
const SHARED: ReadonlyArray<readonly [string, (command: Command, contextOf: ContextOf) => Command]> = [
  ['create', defineCreate],
  ['run', defineRun],
  ['start', defineStart],
  ['stop', defineStop],
  ['restart', defineRestart],
  ['kill', defineKill],
  ['pause', definePause],
  ['unpause', defineUnpause],
  ['rename', defineRename],
  ['inspect', defineInspect],
  ['logs', defineLogs],
  ['exec', defineExec],
  ['top', defineTop],
  ['wait', defineWait],
  ['diff', defineDiff],
  ['cp', defineCp],
  ['commit', defineCommit],
];

export function registerContainers(program: Command, contextOf: ContextOf): void {
  for (const [name, define] of SHARED) define(program.command(name), contextOf);
  definePs(program.command('ps'), contextOf);
  defineRemove(program.command('rm'), contextOf);

  const container = program
    .command('container')
    .description('manage containers: ls, create, run, start, stop, rm, logs, exec, cp, diff, commit, history…');
  for (const [name, define] of SHARED) define(container.command(name), contextOf);
  definePs(container.command('ls'), contextOf).aliases(['ps', 'list']);
  defineRemove(container.command('rm'), contextOf).alias('remove');
  defineContainerHistory(container.command('history'), contextOf);
}
