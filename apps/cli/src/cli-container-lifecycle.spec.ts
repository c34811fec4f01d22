/**
 * `strata start|stop|restart|kill|pause|unpause|rm|rename` in-process against the fake node: the
 * request each sends, the names printed as Docker prints them, going on past a refusal.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ContainerStatus } from '@strata/api';
import { cliHarness, containerReply, containerView } from './testing/cli-harness.js';
import { sendJson, sendProblem, type Handler } from './testing/fake-node.js';

const cli = cliHarness();
afterEach(() => cli.close());
const { strata } = cli;

/** Answers for containers `web` and `db`; `ghost` does not exist, `done` has exited. */
const node =
  (status: ContainerStatus): Handler =>
  (q, res) => {
    const ref = decodeURIComponent(q.path.split('/')[2]!);
    if (ref === 'ghost') return sendProblem(res, 404, 'CONTAINER_NOT_FOUND', 'no such container: ghost');
    if (ref === 'done') return sendProblem(res, 409, 'CONTAINER_NOT_RUNNING', 'container done is exited, not running');
    sendJson(res, 200, containerReply(containerView(ref === 'web' ? 'a' : 'b', { name: ref, status })));
  };

describe('start, stop, restart, kill, pause, unpause', () => {
  it('each container by the name given, in order; the verb in the path', async () => {
    for (const [verb, status] of [
      ['start', 'running'],
      ['stop', 'exited'],
      ['restart', 'running'],
      ['kill', 'exited'],
      ['pause', 'paused'],
      ['unpause', 'running'],
    ] as const) {
      const r = await strata([verb, 'web', 'db'], node(status));
      expect(r, verb).toMatchObject({ code: 0, out: 'web\ndb\n', err: '' });
      expect(r.requests.slice(-2).map((q) => `${q.method} ${q.url}`)).toEqual([`POST /containers/web/${verb}`, `POST /containers/db/${verb}`]);
      expect(r.requests.at(-1)!.headers['idempotency-key']).toBeTruthy();
    }
  });

  it('stop -t and restart -t as ?t=; kill -s as the full signal name', async () => {
    await strata(['stop', '-t', '0', 'web'], node('exited'));
    await strata(['container', 'restart', '--time', '30', 'web'], node('running'));
    await strata(['kill', '-s', 'hup', 'web'], node('running'));
    await strata(['kill', '--signal', 'SIGUSR1', 'web'], node('running'));
    await strata(['kill', '-s', '9', 'web'], node('exited'));
    expect(cli.requests().map((q) => q.url)).toEqual([
      '/containers/web/stop?t=0',
      '/containers/web/restart?t=30',
      '/containers/web/kill?signal=SIGHUP',
      '/containers/web/kill?signal=SIGUSR1',
      '/containers/web/kill?signal=9',
    ]);
  });

  it('goes on past a refusal: the others done, each failure on stderr, exit 1', async () => {
    const r = await strata(['stop', 'ghost', 'web', 'done'], node('exited'));
    expect(r.code).toBe(1);
    expect(r.out).toBe('web\n');
    expect(r.err).toBe('error: no such container: ghost (CONTAINER_NOT_FOUND)\nerror: container done is exited, not running (CONTAINER_NOT_RUNNING)\n');
    expect(r.requests).toHaveLength(3);
  });

  it('--json: the containers as they are after the change', async () => {
    const r = await strata(['--json', 'pause', 'web', 'ghost'], node('paused'));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual([containerView('a', { name: 'web', status: 'paused' })]);
  });

  it('a failure that concerns every container (the node) ends at once', async () => {
    const r = await strata(['start', 'web', 'db'], (_q, res) => sendProblem(res, 503, 'RUNTIME_UNAVAILABLE', 'runc is not installed'));
    expect(r).toMatchObject({ code: 1, out: '', err: 'error: runc is not installed (RUNTIME_UNAVAILABLE)\n' });
    expect(r.requests).toHaveLength(1);
  });
});

describe('rm', () => {
  it('DELETE each, ?force=true with -f; prints the names', async () => {
    const r = await strata(['rm', '-f', 'web', 'db'], node('removed'));
    expect(r).toMatchObject({ code: 0, out: 'web\ndb\n' });
    expect(r.requests.map((q) => `${q.method} ${q.url}`)).toEqual(['DELETE /containers/web?force=true', 'DELETE /containers/db?force=true']);
    const plain = await strata(['container', 'remove', 'web'], node('removed'));
    expect(plain.requests.at(-1)!.url).toBe('/containers/web');
  });

  it('a running container without -f: the refusal, exit 1; --json prints the removed ones', async () => {
    const refusing: Handler = (q, res) =>
      q.path === '/containers/web'
        ? sendProblem(res, 409, 'CONTAINER_RUNNING', 'container web is running: stop it first or use --force')
        : sendJson(res, 200, containerReply(containerView('b', { name: 'db', status: 'removed' })));
    const r = await strata(['container', 'rm', '--json', 'web', 'db'], refusing);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual([containerView('b', { name: 'db', status: 'removed' })]);
    expect(r.err).toBe('error: container web is running: stop it first or use --force (CONTAINER_RUNNING)\n');
  });
});

describe('rename', () => {
  it('POST rename?name=; silent like docker rename; --json prints the container', async () => {
    const r = await strata(['rename', 'web', 'api'], node('running'));
    expect(r).toMatchObject({ code: 0, out: '', err: '' });
    expect(r.requests[0]).toMatchObject({ method: 'POST', url: '/containers/web/rename?name=api' });
    const json = await strata(['container', 'rename', 'web', 'api', '--json'], node('running'));
    expect(JSON.parse(json.out)).toEqual(containerView('a', { name: 'web' }));
  });

  it('a name in use: exit 1 with the problem', async () => {
    const r = await strata(['rename', 'web', 'db'], (_q, res) => sendProblem(res, 409, 'CONTAINER_NAME_IN_USE', 'the name "db" is in use'));
    expect(r).toMatchObject({ code: 1, err: 'error: the name "db" is in use (CONTAINER_NAME_IN_USE)\n' });
  });
});

describe('references', () => {
  it('are URL-encoded path segments', async () => {
    await strata(['start', 'a/b?c'], node('running'));
    expect(cli.requests()[0]!.url).toBe('/containers/a%2Fb%3Fc/start');
  });
});

describe('usage errors', () => {
  it('exit 2 and nothing sent', async () => {
    for (const args of [['start'], ['stop', '-t', 'x', 'web'], ['stop', '-t', '-1', 'web'], ['kill', '-s', 'SIG HUP', 'web'], ['rm'], ['rename', 'web'], ['pause', '--bogus', 'web']]) {
      const r = await strata(args, () => undefined);
      expect(r.code, args.join(' ')).toBe(2);
    }
    expect(cli.requests()).toHaveLength(0);
  });
});
