/**
 * The container commands that look rather than change (`ps`, `inspect`, `logs`, `top`, `wait`, `diff`,
 * `container history`) and `exec`, in-process against the fake node, human and --json.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ContainerView, DiffEntryView, EventView, EventsReply, ExecReply, ListReply, LogLineView, TopReply } from '@strata/api';
import { cliHarness, containerId, containerView } from './testing/cli-harness.js';
import { digest, routes, sendJson, sendNdjson, sendProblem, type Handler } from './testing/fake-node.js';

const cli = cliHarness();
afterEach(() => cli.close());
const { strata } = cli;

// captureIo's clock is 2024-05-01T12:00:00Z.
const base = containerView('a').config;
const web = containerView('a', { name: 'web', config: { ...base, cmd: ['httpd', '-f', '-p', '8080'] } });
const paused = containerView('b', { name: 'worker', status: 'paused', createdAt: '2024-05-01T11:40:00.000Z', startedAt: '2024-05-01T11:58:00.000Z', config: { ...base, entrypoint: ['/entry.sh'], cmd: ['run', 'the queue'] } });
const done = containerView('c', {
  name: 'job',
  status: 'exited',
  exitCode: 2,
  exitReason: 'completed',
  createdAt: '2024-05-01T09:00:00.000Z',
  finishedAt: '2024-05-01T11:58:00.000Z',
  image: { reference: 'app:1.0', imageId: digest('e'), manifestDigest: digest('f') },
  config: { ...base, cmd: ['sh', '-c', 'echo hello > /greeting'] },
});
const fresh = containerView('d', { name: 'new', status: 'created', startedAt: null, createdAt: '2024-05-01T11:59:30.000Z' });
const list = (all: boolean): ListReply<ContainerView> => ({ items: all ? [done, web, fresh, paused] : [web, paused], position: 20 });
const psNode: Handler = (q, res) => sendJson(res, 200, list(q.query.get('all') === 'true'));

describe('ps', () => {
  it('running and paused ones, newest first, in docker ps columns', async () => {
    const r = await strata(['ps'], psNode);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      'CONTAINER ID   IMAGE            COMMAND                  CREATED          STATUS                  NAMES',
      'aaaaaaaaaaaa   busybox:latest   "httpd -f -p 8080"       10 minutes ago   Up 3 minutes            web',
      `bbbbbbbbbbbb   busybox:latest   "/entry.sh run 'the …"   20 minutes ago   Up 2 minutes (Paused)   worker`,
      '',
    ]);
    expect(r.requests[0]!.url).toBe('/containers');
  });

  it('-a: every state, with Created and Exited (code) … ago', async () => {
    const r = await strata(['ps', '-a'], psNode);
    expect(r.requests[0]!.url).toBe('/containers?all=true');
    const lines = r.out.split('\n');
    expect(lines.slice(1, 5).map((l) => l.split(/ {3,}/).slice(4).join(' | '))).toEqual([
      'Created | new',
      'Up 3 minutes | web',
      'Up 2 minutes (Paused) | worker',
      'Exited (2) 2 minutes ago | job',
    ]);
    expect(lines[4]).toContain('"sh -c \'echo hello >…"');
    expect(lines[4]).toContain('3 hours ago');
  });

  it('-q: the short ids; --no-trunc: the full ids and commands', async () => {
    const q = await strata(['ps', '-q'], psNode);
    expect(q.out).toBe('aaaaaaaaaaaa\nbbbbbbbbbbbb\n');
    const full = await strata(['container', 'ls', '--no-trunc', '-qa'], psNode);
    expect(full.out.split('\n')).toEqual([containerId('d'), containerId('a'), containerId('b'), containerId('c'), '']);
    const wide = await strata(['container', 'ps', '--no-trunc'], psNode);
    expect(wide.out).toContain(`${containerId('b')}   busybox:latest   "/entry.sh run 'the queue'"`);
  });

  it('--filter: applied here; status= asks for all; --json: the filtered ListReply', async () => {
    const exited = await strata(['ps', '--filter', 'status=exited', '-q'], psNode);
    expect(exited.requests[0]!.url).toBe('/containers?all=true');
    expect(exited.out).toBe('cccccccccccc\n');
    const byName = await strata(['ps', '-a', '-f', 'name=^w', '-f', 'ancestor=busybox', '-q'], psNode);
    expect(byName.out).toBe('aaaaaaaaaaaa\nbbbbbbbbbbbb\n');
    const json = await strata(['--json', 'ps', '-a', '--filter', 'ancestor=app:1.0'], psNode);
    expect(JSON.parse(json.out)).toEqual({ items: [done], position: 20 });
  });

  it('an empty list is the header alone; --at goes to the node', async () => {
    const r = await strata(['container', 'list', '--at', '3'], (_q, res) => sendJson(res, 200, { items: [], position: 3 }));
    expect(r.out).toBe('CONTAINER ID   IMAGE   COMMAND   CREATED   STATUS   NAMES\n');
    expect(r.err).toBe('as of position 3\n');
    expect(r.requests[0]!.url).toBe('/containers?at=3');
  });
});

describe('inspect', () => {
  it('a JSON array, --json or not; goes on past a missing one (exit 1)', async () => {
    const handler: Handler = (q, res) =>
      q.path === '/containers/ghost' ? sendProblem(res, 404, 'CONTAINER_NOT_FOUND', 'no such container: ghost') : sendJson(res, 200, q.path.endsWith('web') ? web : done);
    const r = await strata(['inspect', 'web', 'job'], handler);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual([web, done]);
    const missing = await strata(['container', 'inspect', 'ghost', 'web'], handler);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.out)).toEqual([web]);
    expect(missing.err).toBe('error: no such container: ghost (CONTAINER_NOT_FOUND)\n');
  });
});

describe('logs', () => {
  const lines: LogLineView[] = [
    { time: '2024-05-01T11:59:00.000000001Z', stream: 'stdout', line: 'listening on :8080' },
    { time: '2024-05-01T11:59:01.000Z', stream: 'stderr', line: 'GET / 404' },
    { time: '2024-05-01T11:59:02.000Z', stream: 'stdout', line: '' },
  ];
  const logsNode: Handler = (_q, res) => sendNdjson(res, lines);

  it('stdout lines on stdout, stderr lines on stderr', async () => {
    const r = await strata(['logs', 'web'], logsNode);
    expect(r).toMatchObject({ code: 0, out: 'listening on :8080\n\n', err: 'GET / 404\n' });
    expect(r.requests[0]!.url).toBe('/containers/web/logs');
  });

  it('-f, --since (a duration, as ISO), --tail and -t', async () => {
    const r = await strata(['logs', '-f', '--since', '10m', '--tail', '2', '-t', 'web'], logsNode);
    expect(Object.fromEntries(r.requests[0]!.query)).toEqual({ since: '2024-05-01T11:50:00.000Z', tail: '2', follow: 'true' });
    expect(r.out).toBe('2024-05-01T11:59:00.000000001Z listening on :8080\n2024-05-01T11:59:02.000Z \n');
    expect(r.err).toBe('2024-05-01T11:59:01.000Z GET / 404\n');
    const all = await strata(['container', 'logs', '--tail', 'all', '--since', '2024-05-01T10:00:00Z', 'web'], logsNode);
    expect(all.requests[1]!.url).toBe('/containers/web/logs?since=2024-05-01T10%3A00%3A00.000Z');
  });

  it('--json: the lines as NDJSON on stdout', async () => {
    const r = await strata(['logs', '--json', 'web'], logsNode);
    expect(r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(lines);
    expect(r.err).toBe('');
  });

  it('a container that does not exist: exit 1; a stream cut off: exit 1 after what came', async () => {
    const missing = await strata(['logs', 'ghost'], (_q, res) => sendProblem(res, 404, 'CONTAINER_NOT_FOUND', 'no such container: ghost'));
    expect(missing).toMatchObject({ code: 1, err: 'error: no such container: ghost (CONTAINER_NOT_FOUND)\n' });
    await cli.close();
    const cut = await strata(['logs', 'web'], (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify(lines[0])}\n`, () => setTimeout(() => res.destroy(), 20));
    });
    expect(cut.code).toBe(1);
    expect(cut.out).toBe('listening on :8080\n');
    expect(cut.err).toMatch(/^error: the answer of GET \/containers\/web\/logs was cut off/);
  });

  it('usage errors: a position as --since, a bad --tail', async () => {
    for (const args of [['logs', '--since', '42', 'web'], ['logs', '--tail', '-3', 'web'], ['logs', '--tail', 'some', 'web'], ['logs']]) {
      const r = await strata(args, () => undefined);
      expect(r.code, args.join(' ')).toBe(2);
    }
    expect(cli.requests()).toHaveLength(0);
  });
});

describe('exec', () => {
  const execNode =
    (reply: ExecReply): Handler =>
    (_q, res) =>
      sendJson(res, 200, reply);

  it('sends the command (flags and all) and its options; prints its output; exits with its code', async () => {
    const r = await strata(['exec', '-e', 'A=1', '-w', '/tmp', '-u', 'nobody', 'web', 'sh', '-c', 'ls -l; exit 4'], execNode({ exitCode: 4, stdout: 'total 0\n', stderr: 'oops\n' }));
    expect(r).toMatchObject({ code: 4, out: 'total 0\n', err: 'oops\n' });
    expect(r.requests[0]).toMatchObject({ method: 'POST', url: '/containers/web/exec' });
    expect(JSON.parse(r.requests[0]!.body)).toEqual({ cmd: ['sh', '-c', 'ls -l; exit 4'], env: ['A=1'], workingDir: '/tmp', user: 'nobody' });
  });

  it('exit 0; --json prints the ExecReply', async () => {
    const reply = { exitCode: 0, stdout: 'hi\n', stderr: '' };
    const r = await strata(['--json', 'container', 'exec', 'web', 'echo', 'hi'], execNode(reply));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(reply);
    expect(JSON.parse(r.requests[0]!.body)).toEqual({ cmd: ['echo', 'hi'] });
  });

  it('not running: exit 1 with the problem; no command: exit 2', async () => {
    const r = await strata(['exec', 'job', 'ls'], (_q, res) => sendProblem(res, 409, 'CONTAINER_NOT_RUNNING', 'container job is exited, not running'));
    expect(r).toMatchObject({ code: 1, err: 'error: container job is exited, not running (CONTAINER_NOT_RUNNING)\n' });
    const usage = await strata(['exec', 'web'], () => undefined);
    expect(usage.code).toBe(2);
    const badEnv = await strata(['exec', '-e', 'A', 'web', 'ls'], () => undefined);
    expect(badEnv.code).toBe(2);
    expect(cli.requests()).toHaveLength(1);
  });
});

describe('top', () => {
  const top: TopReply = { titles: ['PID', 'USER', 'TIME', 'COMMAND'], processes: [['4242', 'root', '0:00', 'httpd -f -p 8080'], ['4250', 'nobody', '0:01', 'sh']] };

  it('a table of the processes; --json the TopReply', async () => {
    const r = await strata(['top', 'web'], (_q, res) => sendJson(res, 200, top));
    expect(r.out.split('\n')).toEqual(['PID    USER     TIME   COMMAND', '4242   root     0:00   httpd -f -p 8080', '4250   nobody   0:01   sh', '']);
    expect(r.requests[0]).toMatchObject({ method: 'GET', url: '/containers/web/top' });
    const json = await strata(['container', 'top', 'web', '--json'], (_q, res) => sendJson(res, 200, top));
    expect(JSON.parse(json.out)).toEqual(top);
  });
});

describe('wait', () => {
  const waitNode: Handler = (q, res) => {
    if (q.path === '/containers/ghost/wait') return sendProblem(res, 404, 'CONTAINER_NOT_FOUND', 'no such container: ghost');
    sendJson(res, 200, q.path === '/containers/web/wait' ? { exitCode: 0, reason: 'completed' } : { exitCode: 137, reason: 'killed' });
  };

  it('one exit code per container, in order; goes on past a missing one', async () => {
    const r = await strata(['wait', 'web', 'ghost', 'job'], waitNode);
    expect(r).toMatchObject({ code: 1, out: '0\n137\n', err: 'error: no such container: ghost (CONTAINER_NOT_FOUND)\n' });
    expect(r.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['POST /containers/web/wait', 'POST /containers/ghost/wait', 'POST /containers/job/wait']);
  });

  it('--json: {exitCode, reason}, one line per container', async () => {
    const one = await strata(['--json', 'wait', 'web'], waitNode);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.out)).toEqual({ exitCode: 0, reason: 'completed' });
    const two = await strata(['container', 'wait', 'web', 'job', '--json'], waitNode);
    expect(two.out.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([{ exitCode: 0, reason: 'completed' }, { exitCode: 137, reason: 'killed' }]);
  });
});

describe('diff', () => {
  const changes: DiffEntryView[] = [
    { kind: 'A', path: '/greeting' },
    { kind: 'D', path: '/etc/motd' },
    { kind: 'A', path: '/srv' },
    { kind: 'A', path: '/srv/a' },
  ];

  it('one "K /path" line per change; --json: [{kind, path}]', async () => {
    const r = await strata(['diff', 'job'], (_q, res) => sendJson(res, 200, changes));
    expect(r).toMatchObject({ code: 0, out: 'A /greeting\nD /etc/motd\nA /srv\nA /srv/a\n' });
    expect(r.requests[0]).toMatchObject({ method: 'GET', url: '/containers/job/changes' });
    const json = await strata(['container', 'diff', '--json', 'job'], (_q, res) => sendJson(res, 200, changes.map((c) => ({ ...c, extra: 1 }))));
    expect(JSON.parse(json.out)).toEqual(changes);
  });

  it('no change prints nothing; an answer that is not an array is a protocol error', async () => {
    const none = await strata(['diff', 'job'], (_q, res) => sendJson(res, 200, []));
    expect(none).toMatchObject({ code: 0, out: '' });
    await cli.close();
    const bad = await strata(['diff', 'job'], (_q, res) => sendJson(res, 200, { items: [] }));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/does not follow the API contract/);
  });
});

describe('container history', () => {
  const id = containerId('c');
  const event = (position: number, type: string, data: object, actor = 'admin'): EventView => ({
    eventId: `e${position}`,
    type,
    schemaVersion: 1,
    streamId: `container-${id}`,
    version: position,
    position,
    occurredAt: `2024-05-01T11:${String(position).padStart(2, '0')}:00.000Z`,
    actor,
    commandId: `c${position}`,
    correlationId: `c${position}`,
    causationId: null,
    nodeId: 'node-1',
    data: { id, ...data },
  });
  const events = [
    event(10, 'ContainerCreated', { name: 'job', image: { reference: 'busybox:latest', imageId: digest('b') }, restartPolicy: { name: 'no', maximumRetryCount: 0 } }),
    event(11, 'ContainerStarted', { pid: 4242, restartCount: 0 }),
    event(12, 'ContainerSignalled', { signal: 'SIGHUP' }),
    event(13, 'ContainerExited', { exitCode: 0, reason: 'completed', signal: null, oomKilled: false, error: null }, 'node-1'),
    event(14, 'ContainerFilesChanged', { source: 'process', changes: [{ path: '/greeting', kind: 'A' }, { path: '/etc/motd', kind: 'D' }] }, 'node-1'),
    event(15, 'ContainerCommitted', { imageId: digest('9'), tag: 'demo/app:1' }, 'jane'),
  ];
  const page = (items: EventView[], next: number | null): EventsReply => ({ items, next, position: 20 });

  it('resolves the name to the full id, pages through the stream, one line per event, oldest first', async () => {
    const r = await strata(
      ['container', 'history', 'job'],
      routes({
        'GET /containers/job': (_q, res) => sendJson(res, 200, done),
        'GET /events': (q, res) => sendJson(res, 200, q.query.get('after') === null ? page(events.slice(0, 3), 12) : page(events.slice(3), null)),
      }),
    );
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      'TIME                       POSITION   EVENT                   ACTOR    DETAILS',
      '2024-05-01T11:10:00.000Z         10   ContainerCreated        admin    name job, image busybox:latest',
      '2024-05-01T11:11:00.000Z         11   ContainerStarted        admin    pid 4242',
      '2024-05-01T11:12:00.000Z         12   ContainerSignalled      admin    SIGHUP',
      '2024-05-01T11:13:00.000Z         13   ContainerExited         node-1   exit code 0, completed',
      '2024-05-01T11:14:00.000Z         14   ContainerFilesChanged   node-1   process: A /greeting, D /etc/motd',
      `2024-05-01T11:15:00.000Z         15   ContainerCommitted      jane     image ${digest('9')} as demo/app:1`,
      '',
    ]);
    expect(r.requests.map((q) => q.url)).toEqual([
      '/containers/job',
      `/events?stream=container-${id}&limit=1000`,
      `/events?stream=container-${id}&after=12&limit=1000`,
    ]);
  });

  it('a full id goes straight to the log (a removed container too); --json: NDJSON like events --json', async () => {
    const r = await strata(['--json', 'container', 'history', id], (_q, res) => sendJson(res, 200, page(events, null)));
    expect(r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual(events);
    expect(r.requests.map((q) => q.path)).toEqual(['/events']);
  });

  it('an unknown container: exit 1, the log not asked', async () => {
    const r = await strata(['container', 'history', 'ghost'], (_q, res) => sendProblem(res, 404, 'CONTAINER_NOT_FOUND', 'no such container: ghost'));
    expect(r).toMatchObject({ code: 1, err: 'error: no such container: ghost (CONTAINER_NOT_FOUND)\n' });
    expect(r.requests).toHaveLength(1);
  });
});
