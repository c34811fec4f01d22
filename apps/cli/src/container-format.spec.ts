/** The pure pieces of the container commands: ps cells, --filter, the history's details. */
import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import { containerView } from './testing/cli-harness.js';
import { digest } from './testing/fake-node.js';
import { eventDetails } from './commands/container-event-details.js';
import { matchesContainerFilters, needsAll, parseContainerFilters } from './commands/container-filters.js';
import { commandCell, commandLine, shortId, statusText } from './commands/container-format.js';

const now = new Date('2024-05-01T12:00:00Z');

describe('statusText', () => {
  it('reads like docker ps for every state', () => {
    expect(statusText(containerView('a'), now)).toBe('Up 3 minutes');
    expect(statusText(containerView('a', { startedAt: '2024-05-01T11:59:59.500Z' }), now)).toBe('Up Less than a second');
    expect(statusText(containerView('a', { status: 'paused', startedAt: '2024-05-01T11:58:00Z' }), now)).toBe('Up 2 minutes (Paused)');
    expect(statusText(containerView('a', { status: 'exited', exitCode: 137, finishedAt: '2024-05-01T10:00:00Z' }), now)).toBe('Exited (137) 2 hours ago');
    expect(statusText(containerView('a', { status: 'exited', exitCode: 0, finishedAt: '2024-05-01T11:59:00Z' }), now)).toBe('Exited (0) About a minute ago');
    expect(statusText(containerView('a', { status: 'created', startedAt: null }), now)).toBe('Created');
    expect(statusText(containerView('a', { status: 'removed' }), now)).toBe('Removed');
  });
});

describe('commandCell', () => {
  it('entrypoint and command joined, arguments with spaces single-quoted, cut at 20, quoted', () => {
    const c = containerView('a', { config: { ...containerView('a').config, entrypoint: ['/entry.sh'], cmd: ['sh', '-c', 'echo hello'] } });
    expect(commandLine(c)).toBe("/entry.sh sh -c 'echo hello'");
    expect(commandCell(c, true)).toBe(`"/entry.sh sh -c 'ec…"`);
    expect(commandCell(c, false)).toBe(`"/entry.sh sh -c 'echo hello'"`);
    expect(commandCell(containerView('a', { config: { ...c.config, entrypoint: null, cmd: null } }), true)).toBe('""');
    expect(shortId(c.id)).toBe('aaaaaaaaaaaa');
  });
});

describe('container filters', () => {
  const web = containerView('a', { name: 'web-1', config: { ...containerView('a').config, labels: { tier: 'front', x: '' } } });
  const job = containerView('b', { name: 'job', status: 'exited', exitCode: 3, image: { reference: 'app:1.0', imageId: digest('e'), manifestDigest: digest('f') } });
  const pick = (...specs: string[]) => [web, job].filter((c) => matchesContainerFilters(parseContainerFilters(specs), c)).map((c) => c.name);

  it('each key, alternatives within a key, all keys together', () => {
    expect(pick('status=exited')).toEqual(['job']);
    expect(pick('status=exited', 'status=running')).toEqual(['web-1', 'job']);
    expect(pick('name=^web')).toEqual(['web-1']);
    expect(pick('name=o')).toEqual(['job']);
    expect(pick('ancestor=busybox')).toEqual(['web-1']);
    expect(pick('ancestor=busybox:latest')).toEqual(['web-1']);
    expect(pick('ancestor=app:1.0')).toEqual(['job']);
    expect(pick('ancestor=eeee')).toEqual(['job']);
    expect(pick(`ancestor=${digest('e')}`)).toEqual(['job']);
    expect(pick(`ancestor=${digest('f')}`)).toEqual(['job']);
    expect(pick('ancestor=app')).toEqual([]);
    expect(pick('id=bbb')).toEqual(['job']);
    expect(pick('label=tier')).toEqual(['web-1']);
    expect(pick('label=tier=back')).toEqual([]);
    expect(pick('exited=3')).toEqual(['job']);
    expect(pick('status=exited', 'name=web')).toEqual([]);
  });

  it('status and exited imply --all; bad filters are usage errors', () => {
    expect(needsAll(parseContainerFilters(['status=exited']))).toBe(true);
    expect(needsAll(parseContainerFilters(['exited=0']))).toBe(true);
    expect(needsAll(parseContainerFilters(['name=web']))).toBe(false);
    for (const spec of ['status=sleeping', 'color=red', 'name', 'name=', 'exited=x', 'name=(']) {
      expect(() => parseContainerFilters([spec]), spec).toThrow(UsageError);
    }
  });
});

describe('eventDetails', () => {
  const details = (type: string, data: unknown) => eventDetails({ type, data });

  it('the facts of each container event', () => {
    expect(details('ContainerCreated', { id: 'x', name: 'web', image: { reference: 'busybox:latest', imageId: digest('b') }, restartPolicy: { name: 'on-failure', maximumRetryCount: 3 } })).toBe(
      'name web, image busybox:latest, restart on-failure:3',
    );
    expect(details('ContainerStarted', { id: 'x', pid: 4242, restartCount: 0 })).toBe('pid 4242');
    expect(details('ContainerStarted', { id: 'x', pid: 4243, restartCount: 2 })).toBe('pid 4243, restart 2');
    expect(details('ContainerExited', { exitCode: 0, reason: 'completed', signal: null, oomKilled: false, error: null })).toBe('exit code 0, completed');
    expect(details('ContainerExited', { exitCode: 137, reason: 'killed', signal: 'SIGKILL', oomKilled: false, error: null })).toBe('exit code 137, killed by SIGKILL');
    expect(details('ContainerExited', { exitCode: -1, reason: 'error', signal: null, oomKilled: false, error: 'exec: no such file' })).toBe('exit code -1, error: exec: no such file');
    expect(details('ContainerSignalled', { signal: 'SIGHUP' })).toBe('SIGHUP');
    expect(details('ContainerRenamed', { from: 'a', to: 'b' })).toBe('a -> b');
    expect(details('ContainerCommitted', { imageId: digest('9'), tag: 'demo/app:1' })).toBe(`image ${digest('9')} as demo/app:1`);
    expect(details('ContainerPaused', { id: 'x' })).toBe('');
  });

  it('files: the source and the first five paths; an unknown type: its data as JSON', () => {
    const changes = ['/a', '/b', '/c', '/d', '/e', '/f', '/g'].map((path) => ({ path, kind: 'A' }));
    expect(details('ContainerFilesChanged', { source: 'api', changes: changes.slice(0, 2) })).toBe('api: A /a, A /b');
    expect(details('ContainerFilesChanged', { source: 'process', changes })).toBe('process: A /a, A /b, A /c, A /d, A /e (+2 more)');
    expect(details('ContainerHealthChecked', { id: 'x', healthy: true })).toBe('{"healthy":true}');
    expect(details('ContainerExited', null)).toBe('exit code ?');
  });
});
