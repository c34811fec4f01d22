/**
 * `strata create` and `strata run` in-process against the fake node: the CreateContainerRequest each
 * flag becomes, the command after the image taken as it is, run's logs and exit code.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LogLineView, WaitReply } from '@strata/api';
import { cliHarness, containerId, containerReply, containerView } from './testing/cli-harness.js';
import { routes, sendJson, sendNdjson, sendProblem, type Handler } from './testing/fake-node.js';

const cli = cliHarness();
afterEach(() => cli.close());
const { strata } = cli;

const id = containerId('c');
const created = containerView('c', { name: 'web', status: 'created', startedAt: null });
const running = containerView('c', { name: 'web' });
const exited = containerView('c', { name: 'web', status: 'exited', exitCode: 3, exitReason: 'completed', finishedAt: '2024-05-01T11:59:00.000Z' });
const createReply: Handler = (_q, res) => sendJson(res, 201, containerReply(created));

describe('create', () => {
  it('every flag in the request; the command after the image as it is, flags and all; prints the full id', async () => {
    const r = await strata(
      [
        'create', '--name', 'web', '-e', 'A=1', '-e', 'HOME', '-e', 'UNSET', '-l', 'tier=front', '-l', 'solo', '--entrypoint', '/entry.sh',
        '-w', '/srv', '-u', 'nobody:nogroup', '--hostname', 'box', '--restart', 'on-failure:3', '--stop-signal', 'SIGINT', '--stop-timeout', '5',
        'busybox:latest', 'sh', '-c', 'echo hi --json', '--json', '-e', 'X=1',
      ],
      createReply,
      { env: { HOME: '/root' } },
    );
    expect(r).toMatchObject({ code: 0, out: `${id}\n`, err: '' });
    const [req] = r.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/containers' });
    expect(req!.headers['idempotency-key']).toBeTruthy();
    expect(JSON.parse(req!.body)).toEqual({
      image: 'busybox:latest',
      name: 'web',
      cmd: ['sh', '-c', 'echo hi --json', '--json', '-e', 'X=1'],
      entrypoint: ['/entry.sh'],
      env: ['A=1', 'HOME=/root'],
      workingDir: '/srv',
      user: 'nobody:nogroup',
      labels: { tier: 'front', solo: '' },
      hostname: 'box',
      restart: 'on-failure:3',
      stopSignal: 'SIGINT',
      stopTimeout: 5,
    });
  });

  it('only the image when nothing else is given; --entrypoint "" clears it; --json prints the container', async () => {
    const plain = await strata(['container', 'create', 'busybox'], createReply);
    expect(JSON.parse(plain.requests[0]!.body)).toEqual({ image: 'busybox' });
    const json = await strata(['--json', 'create', '--entrypoint', '', 'busybox', '--', 'ls'], createReply);
    expect(JSON.parse(json.out)).toEqual(created);
    expect(JSON.parse(json.requests[1]!.body)).toEqual({ image: 'busybox', entrypoint: [], cmd: ['ls'] });
  });

  it('a refusal is exit 1 with the problem', async () => {
    const r = await strata(['create', '--name', 'web', 'busybox'], (_q, res) => sendProblem(res, 409, 'CONTAINER_NAME_IN_USE', 'the name "web" is in use by 0123abcd'));
    expect(r).toMatchObject({ code: 1, out: '', err: 'error: the name "web" is in use by 0123abcd (CONTAINER_NAME_IN_USE)\n' });
  });
});

describe('run', () => {
  const logs: LogLineView[] = [
    { time: '2024-05-01T11:59:00.000Z', stream: 'stdout', line: 'hello' },
    { time: '2024-05-01T11:59:01.000Z', stream: 'stderr', line: 'warning: x' },
    { time: '2024-05-01T11:59:02.000Z', stream: 'stdout', line: 'bye' },
  ];
  const exit = (exitCode: number): WaitReply => ({ exitCode, reason: 'completed' });
  const node = (exitCode: number): Handler =>
    routes({
      'POST /containers': createReply,
      [`POST /containers/${id}/start`]: (_q, res) => sendJson(res, 200, containerReply(running)),
      [`GET /containers/${id}/logs`]: (_q, res) => sendNdjson(res, logs),
      [`POST /containers/${id}/wait`]: (_q, res) => sendJson(res, 200, exit(exitCode)),
      [`GET /containers/${id}`]: (_q, res) => sendJson(res, 200, { ...exited, exitCode }),
      [`DELETE /containers/${id}`]: (_q, res) => sendJson(res, 200, containerReply({ ...exited, status: 'removed' })),
    });

  it('creates, starts, prints the output as it comes (stdout and stderr apart), exits with the container\'s code', async () => {
    const r = await strata(['run', '--name', 'web', 'busybox', 'sh', '-c', 'echo hello; echo warning: x >&2; echo bye; exit 3'], node(3));
    expect(r.code).toBe(3);
    expect(r.out).toBe('hello\nbye\n');
    expect(r.err).toBe('warning: x\n');
    expect(r.requests.map((q) => `${q.method} ${q.url}`)).toEqual([
      'POST /containers',
      `POST /containers/${id}/start`,
      `GET /containers/${id}/logs?follow=true`,
      `POST /containers/${id}/wait`,
    ]);
    expect(JSON.parse(r.requests[0]!.body)).toEqual({ image: 'busybox', name: 'web', cmd: ['sh', '-c', 'echo hello; echo warning: x >&2; echo bye; exit 3'] });
  });

  it('exit 0 for a container that exits 0; --rm removes it afterwards', async () => {
    const r = await strata(['run', '--rm', 'busybox', 'true'], node(0));
    expect(r.code).toBe(0);
    expect(r.requests.at(-1)).toMatchObject({ method: 'DELETE', url: `/containers/${id}` });
  });

  it('a code outside 0…255 as a shell sees it (-1 is 255)', async () => {
    const r = await strata(['run', 'busybox', 'false'], node(-1));
    expect(r.code).toBe(255);
  });

  it('-d prints the id and does not wait; --json -d prints the started container', async () => {
    const r = await strata(['run', '-d', 'busybox', 'sleep', '1000'], node(0));
    expect(r).toMatchObject({ code: 0, out: `${id}\n`, err: '' });
    expect(r.requests.map((q) => q.path)).toEqual(['/containers', `/containers/${id}/start`]);
    const json = await strata(['run', '--json', '-d', 'busybox'], node(0));
    expect(JSON.parse(json.out)).toEqual(running);
  });

  it('--json without -d: no logs, the container as it ended, its exit code', async () => {
    const r = await strata(['--json', 'container', 'run', 'busybox', 'false'], node(1));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual({ ...exited, exitCode: 1 });
    expect(r.requests.map((q) => `${q.method} ${q.path}`)).not.toContain(`GET /containers/${id}/logs`);
  });

  it('a start that fails is exit 1 with the problem, after the create', async () => {
    const r = await strata(
      ['run', 'busybox'],
      routes({
        'POST /containers': createReply,
        [`POST /containers/${id}/start`]: (_q, res) => sendProblem(res, 503, 'RUNTIME_UNAVAILABLE', 'runc is not installed: install runc (apt-get install runc)'),
      }),
    );
    expect(r).toMatchObject({ code: 1, out: '', err: 'error: runc is not installed: install runc (apt-get install runc) (RUNTIME_UNAVAILABLE)\n' });
  });
});

describe('usage errors', () => {
  it('exit 2 and nothing sent', async () => {
    for (const args of [
      ['create'],
      ['run'],
      ['create', '--restart', 'sometimes', 'busybox'],
      ['create', '--restart', 'always:3', 'busybox'],
      ['create', '--stop-timeout', 'ten', 'busybox'],
      ['create', '-e', '=x', 'busybox'],
      ['create', '-l', '=x', 'busybox'],
      ['run', '-d', '--rm', 'busybox'],
      ['run', '--bogus', 'busybox'],
    ]) {
      const r = await strata(args, () => undefined);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(/error/);
    }
    expect(cli.requests()).toHaveLength(0);
  });
});
