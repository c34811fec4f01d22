import { describe, expect, it } from 'vitest';
import { codeOf } from '../testing/error-code.js';
import { fold } from '../shared/decider.js';
import type { ContainerCommand } from './commands.js';
import { assertTransition, containerDecider } from './decider.js';
import type { ContainerCreatedData, ContainerEvent } from './events.js';
import { containerNameDecider } from './name-reservation.js';
import { parseRestartPolicy } from './names.js';
import { mergeRunConfig } from './run-config.js';

const ID = 'a'.repeat(64);
const created: ContainerCreatedData = {
  id: ID,
  name: 'web',
  image: { manifestDigest: `sha256:${'1'.repeat(64)}`, imageId: `sha256:${'2'.repeat(64)}`, reference: 'demo/app:1', topChainId: null },
  config: { entrypoint: null, cmd: ['sh'], env: [], workingDir: '/', user: '', labels: {}, hostname: 'aaaaaaaaaaaa', stopSignal: 'SIGTERM', stopTimeoutSeconds: 10 },
  restartPolicy: { name: 'no', maximumRetryCount: 0 },
  nodeId: 'n1',
  snapshotter: 'native',
};
const C = {
  create: { type: 'CreateContainer', container: created },
  start: { type: 'StartContainer', id: ID, pid: 42, restart: false },
  exit: { type: 'RecordContainerExit', id: ID, exitCode: 0, reason: 'completed', signal: null, oomKilled: false, error: null },
  pause: { type: 'PauseContainer', id: ID },
  unpause: { type: 'UnpauseContainer', id: ID },
  kill: { type: 'KillContainer', id: ID, signal: 'SIGHUP' },
  remove: { type: 'RemoveContainer', id: ID },
  rename: { type: 'RenameContainer', id: ID, name: 'api' },
} satisfies Record<string, ContainerCommand>;

function run(...commands: ContainerCommand[]): ContainerEvent[] {
  const events: ContainerEvent[] = [];
  for (const c of commands) events.push(...containerDecider.decide(c, fold(containerDecider, events)));
  return events;
}

describe('container aggregate', () => {
  it('lives created → running ⇄ paused → exited → running → exited → removed', () => {
    const types = run(C.create, C.start, C.pause, C.unpause, C.kill, C.exit, C.start, C.exit, C.rename, C.remove).map((e) => e.type);
    expect(types).toEqual([
      'ContainerCreated', 'ContainerStarted', 'ContainerPaused', 'ContainerUnpaused', 'ContainerSignalled',
      'ContainerExited', 'ContainerStarted', 'ContainerExited', 'ContainerRenamed', 'ContainerRemoved',
    ]);
  });

  it.each([
    ['start a running container', [C.create, C.start], C.start, 'CONTAINER_RUNNING'],
    ['pause an exited container', [C.create, C.start, C.exit], C.pause, 'CONTAINER_NOT_RUNNING'],
    ['pause a created container', [C.create], C.pause, 'CONTAINER_NOT_STARTED'],
    ['unpause a running container', [C.create, C.start], C.unpause, 'CONTAINER_RUNNING'],
    ['start a paused container', [C.create, C.start, C.pause], C.start, 'CONTAINER_PAUSED'],
    ['remove a running container', [C.create, C.start], C.remove, 'CONTAINER_RUNNING'],
    ['kill an exited container', [C.create, C.start, C.exit], C.kill, 'CONTAINER_NOT_RUNNING'],
    ['start a removed container', [C.create, C.remove], C.start, 'CONTAINER_REMOVED'],
    ['rename a removed container', [C.create, C.remove], C.rename, 'CONTAINER_REMOVED'],
    ['create twice', [C.create], C.create, 'CONTAINER_EXISTS'],
    ['start one that never existed', [], C.start, 'CONTAINER_NOT_FOUND'],
  ] as const)('refuses to %s', (_what, before, command, code) => {
    expect(codeOf(() => run(...before, command))).toBe(code);
  });

  it('records an exit once, however often it is observed, and a restart counts', () => {
    expect(run(C.create, C.start, C.exit, C.exit).filter((e) => e.type === 'ContainerExited')).toHaveLength(1);
    const events = run(C.create, C.start, C.exit, { ...C.start, restart: true }, C.exit, { ...C.start, restart: true });
    expect(events.filter((e) => e.type === 'ContainerStarted').map((e) => (e.data as { restartCount: number }).restartCount)).toEqual([0, 1, 2]);
  });

  it('stop is allowed in every live state (a no-op when not running), remove only when stopped', () => {
    const state = fold(containerDecider, run(C.create));
    expect(() => assertTransition(state, 'stop')).not.toThrow();
    expect(() => assertTransition(state, 'remove')).not.toThrow();
  });
});

describe('container names and run config', () => {
  it('reserves a name once among live containers and frees it on release', () => {
    const reserve = (containerId: string) => ({ type: 'ReserveContainerName', name: 'web', containerId }) as const;
    const first = containerNameDecider.decide(reserve('a'), { holder: null });
    const held = fold(containerNameDecider, first);
    expect(codeOf(() => containerNameDecider.decide(reserve('b'), held))).toBe('CONTAINER_NAME_IN_USE');
    expect(containerNameDecider.decide(reserve('a'), held)).toEqual([]);
    const released = fold(containerNameDecider, [...first, ...containerNameDecider.decide({ type: 'ReleaseContainerName', name: 'web', containerId: 'a' }, held)]);
    expect(containerNameDecider.decide(reserve('b'), released)).toHaveLength(1);
  });

  it('parses restart policies like docker run --restart', () => {
    expect(parseRestartPolicy('on-failure:3')).toEqual({ name: 'on-failure', maximumRetryCount: 3 });
    expect(parseRestartPolicy(undefined)).toEqual({ name: 'no', maximumRetryCount: 0 });
    expect(codeOf(() => parseRestartPolicy('always:2'))).toBe('INVALID_RESTART_POLICY');
    expect(codeOf(() => parseRestartPolicy('sometimes'))).toBe('INVALID_RESTART_POLICY');
  });

  it('merges overrides over the image config as Docker does', () => {
    const image = { cmd: ['nginx'], entrypoint: ['/docker-entrypoint.sh'], env: ['A=1', 'PATH=/bin'], workingDir: null, user: null, labels: { a: '1' }, exposedPorts: [], volumes: [], stopSignal: null };
    const merged = mergeRunConfig(image, { entrypoint: ['sh'], env: ['A=2', 'B=3'], labels: { b: '2' } }, { hostname: 'h' });
    expect(merged).toMatchObject({ entrypoint: ['sh'], cmd: null, env: ['A=2', 'PATH=/bin', 'B=3'], workingDir: '/', labels: { a: '1', b: '2' } });
    expect(mergeRunConfig(image, { cmd: ['-g', 'daemon off;'] }, { hostname: 'h' }).entrypoint).toEqual(['/docker-entrypoint.sh']);
    expect(codeOf(() => mergeRunConfig({ ...image, cmd: null, entrypoint: null }, {}, { hostname: 'h' }))).toBe('NO_COMMAND');
    expect(codeOf(() => mergeRunConfig(image, { workingDir: 'rel' }, { hostname: 'h' }))).toBe('INVALID_WORKDIR');
  });
});
