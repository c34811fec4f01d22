/**
 * The whole CLI, run in-process against a real HTTP server on 127.0.0.1 that stands in for the Strata
 * node (fixed answers; the end-to-end tests against the real node live in test/). Checks the requests
 * each command sends, what it prints, and its exit code.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandReply, EventView, ListReply, TagMoveView } from '@strata/api';
import { run } from './cli.js';
import { captureIo, closedPort, digest, sendJson, sendProblem, startFakeNode, type FakeNode, type Handler } from './testing/fake-node.js';
import { tempDir } from './testing/temp-dir.js';

let node: FakeNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

async function strata(args: string[], handler: Handler, env: NodeJS.ProcessEnv = {}) {
  node ??= await startFakeNode(handler);
  const { io, out, err } = captureIo({ STRATA_URL: node.url, STRATA_TOKEN: 'tok', ...env });
  const code = await run(args, io);
  return { code, out: out(), err: err(), requests: node.requests };
}

const reply = (position: number, events: string[]): CommandReply => ({
  commandId: 'c',
  streamId: 'repository-x',
  version: 1,
  position,
  events,
  duplicate: false,
});

const event = (position: number, type = 'ImageTagged'): EventView => ({
  eventId: `e${position}`,
  type,
  schemaVersion: 1,
  streamId: 'repository-app',
  version: position,
  position,
  occurredAt: `2024-05-01T10:00:${String(position).padStart(2, '0')}.000Z`,
  actor: 'admin',
  commandId: `c${position}`,
  correlationId: `c${position}`,
  causationId: null,
  nodeId: 'node-1',
  data: { tag: 'latest' },
});

describe('commands', () => {
  it('repo create: POSTs the name and visibility, prints what it did', async () => {
    const r = await strata(['repo', 'create', 'library/app', '--public'], (_q, res) =>
      sendJson(res, 201, reply(12, ['RepositoryCreated'])),
    );
    expect(r).toMatchObject({ code: 0, out: 'created repository library/app (public) at position 12\n', err: '' });
    expect(r.requests[0]).toMatchObject({ method: 'POST', path: '/repositories' });
    expect(JSON.parse(r.requests[0]!.body)).toEqual({ name: 'library/app', visibility: 'public' });
    expect(r.requests[0]!.headers['idempotency-key']).toBeTruthy();
  });

  it('repo create --json prints the CommandReply', async () => {
    const r = await strata(['--json', 'repo', 'create', 'app'], (_q, res) => sendJson(res, 201, reply(3, ['RepositoryCreated'])));
    expect(JSON.parse(r.out)).toEqual(reply(3, ['RepositoryCreated']));
    expect(JSON.parse(r.requests[0]!.body)).toEqual({ name: 'app', visibility: 'private' });
  });

  it('repo ls: an aligned table; --at and --min-position become query parameters', async () => {
    const list: ListReply<unknown> = {
      items: [
        { name: 'app', visibility: 'private', tagCount: 2, createdAt: 't0', updatedAt: '2024-05-01T10:00:00.000Z', position: 9 },
        { name: 'library/nginx', visibility: 'public', tagCount: 10, createdAt: 't0', updatedAt: '2024-05-01T11:00:00.000Z', position: 11 },
      ],
      position: 11,
    };
    const r = await strata(['repo', 'ls', '--at', '10m', '--min-position', '11'], (_q, res) => sendJson(res, 200, list));
    expect(r.code).toBe(0);
    expect(r.out.split('\n')).toEqual([
      'NAME            VISIBILITY   TAGS   UPDATED                    POSITION',
      'app             private         2   2024-05-01T10:00:00.000Z          9',
      'library/nginx   public         10   2024-05-01T11:00:00.000Z         11',
      '',
    ]);
    expect(r.err).toBe('as of position 11\n');
    expect(r.requests[0]!.query.get('at')).toBe('2024-05-01T11:50:00.000Z'); // captureIo's clock: 12:00Z
    expect(r.requests[0]!.query.get('minPosition')).toBe('11');
  });

  it('repo history: encodes the name, asks for the tag, shortens digests', async () => {
    const moves: TagMoveView[] = [
      { repository: 'library/app', tag: 'latest', from: null, to: digest('a'), at: 't1', by: 'admin', position: 2, eventType: 'ImageTagged' },
      { repository: 'library/app', tag: 'latest', from: digest('a'), to: digest('b'), at: 't2', by: 'ci', position: 5, eventType: 'ImageTagged' },
      { repository: 'library/app', tag: 'latest', from: digest('b'), to: null, at: 't3', by: 'admin', position: 8, eventType: 'ImageUntagged' },
    ];
    const r = await strata(['repo', 'history', 'library/app:latest'], (_q, res) => sendJson(res, 200, { items: moves, position: 8 }));
    expect(r.requests[0]!.url).toBe('/repositories/library%2Fapp/history?tag=latest');
    expect(r.out.split('\n')).toEqual([
      'WHEN   TAG      FROM           TO             BY      POSITION',
      't1     latest   -              aaaaaaaaaaaa   admin          2',
      't2     latest   aaaaaaaaaaaa   bbbbbbbbbbbb   ci             5',
      't3     latest   bbbbbbbbbbbb   -              admin          8',
      '',
    ]);
  });

  it('repo rm --force, repo visibility, repo tags', async () => {
    const r1 = await strata(['repo', 'rm', 'library/app', '--force'], (q, res) => {
      if (q.method === 'DELETE') return sendJson(res, 200, reply(20, ['RepositoryDeleted']));
      if (q.method === 'PUT') return sendJson(res, 200, reply(21, []));
      sendJson(res, 200, { items: [{ repository: 'app', tag: 'v1', digest: digest('c'), updatedAt: 't', updatedBy: 'admin', position: 4 }], position: 21 });
    });
    expect(r1.out).toBe('removed repository library/app and its tags at position 20\n');
    expect(r1.requests[0]!.url).toBe('/repositories/library%2Fapp?force=true');

    const r2 = await strata(['repo', 'visibility', 'app', 'public'], () => undefined);
    expect(r2.out).toBe('repository app was already public: nothing changed\n');
    expect(r2.requests[1]).toMatchObject({ method: 'PUT', path: '/repositories/app/visibility' });
    expect(JSON.parse(r2.requests[1]!.body)).toEqual({ visibility: 'public' });

    const r3 = await strata(['repo', 'tags', 'app'], () => undefined);
    expect(r3.out).toBe('TAG   DIGEST         UPDATED   BY      POSITION\nv1    cccccccccccc   t         admin          4\n');
  });

  it('tag: any image reference goes as { image }, the target defaulting to latest', async () => {
    const r1 = await strata(['tag', digest('d'), 'library/app:v1'], (_q, res) => sendJson(res, 200, reply(30, ['RepositoryCreated', 'ImageTagged'])));
    expect(r1.requests[0]).toMatchObject({ method: 'PUT', url: '/repositories/library%2Fapp/tags/v1' });
    // Not { digest }: that means a manifest digest only, and a full digest at hand is often the image id.
    expect(JSON.parse(r1.requests[0]!.body)).toEqual({ image: digest('d') });
    expect(r1.out).toBe('tagged library/app:v1 -> dddddddddddd (created repository library/app, private) at position 30\n');

    const r2 = await strata(['tag', 'library/app:v1', 'app'], () => undefined);
    expect(r2.requests[1]!.url).toBe('/repositories/app/tags/latest');
    expect(JSON.parse(r2.requests[1]!.body)).toEqual({ image: 'library/app:v1' });
    expect(r2.out).toBe('tagged app:latest -> library/app:v1 (created repository app, private) at position 30\n');

    const r3 = await strata(['tag', '3f2a1b4c', 'app:v2'], () => undefined);
    expect(JSON.parse(r3.requests[2]!.body)).toEqual({ image: '3f2a1b4c' });
    const r4 = await strata(['tag', `app@${digest('e')}`, 'app:v3'], () => undefined);
    expect(JSON.parse(r4.requests[3]!.body)).toEqual({ image: `app@${digest('e')}` });
  });

  it('untag: DELETEs the tag; insists on a named tag', async () => {
    const r = await strata(['untag', 'app:v1'], (_q, res) => sendJson(res, 200, reply(31, ['ImageUntagged'])));
    expect(r).toMatchObject({ code: 0, out: 'untagged app:v1 at position 31\n' });
    expect(r.requests[0]).toMatchObject({ method: 'DELETE', url: '/repositories/app/tags/v1' });
    const bare = await strata(['untag', 'app'], () => undefined);
    expect(bare.code).toBe(2);
    expect(bare.err).toMatch(/name the tag to remove/);
  });

  it('status: fields and a projections table', async () => {
    const r = await strata(['status'], (_q, res) =>
      sendJson(res, 200, {
        nodeId: 'node-1', version: '0.1.0', backend: 'sqlite', dataDir: '/d', head: 120, uptimeSeconds: 3725, principal: 'admin',
        projections: [{ name: 'repositories', position: 120, lag: 0 }, { name: 'audit', position: 100, lag: 20 }],
      }),
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain('node       node-1\n');
    expect(r.out).toContain('uptime     1h 2m\n');
    expect(r.out).toContain('PROJECTION     POSITION   LAG\nrepositories        120     0\naudit               100    20\n');
  });
});

describe('events', () => {
  const pages = (all: EventView[], size: number): Handler => (q, res) => {
    const after = Number(q.query.get('after') ?? 0);
    const items = all.filter((e) => e.position > after).slice(0, size);
    const more = all.some((e) => e.position > (items.at(-1)?.position ?? Infinity));
    sendJson(res, 200, { items, next: more ? items.at(-1)!.position : null, position: 99 });
  };
  const five = [1, 2, 3, 4, 5].map((p) => event(p));

  it('follows `next` until null and passes filters and bounds', async () => {
    const r = await strata(
      ['events', '--since', '2h', '--until', '5', '--filter', 'type=ImageTagged', '--filter', 'stream=repository-app'],
      pages(five, 2),
    );
    expect(r.code).toBe(0);
    expect(r.requests.map((q) => q.query.get('after'))).toEqual([null, '2', '4']);
    const first = r.requests[0]!.query;
    expect(first.get('since')).toBe('2024-05-01T10:00:00.000Z');
    expect(first.get('until')).toBe('5');
    expect(first.get('type')).toBe('ImageTagged');
    expect(first.get('stream')).toBe('repository-app');
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^TIME\s+POSITION\s+TYPE\s+STREAM\s+ACTOR$/);
    expect(lines[1]).toMatch(/^2024-05-01T10:00:01.000Z\s+1\s+ImageTagged\s+repository-app\s+admin$/);
  });

  it('--limit stops early; --json prints one event per line', async () => {
    const r = await strata(['events', '--limit', '3', '--json'], pages(five, 2));
    expect(r.out.trimEnd().split('\n').map((l) => (JSON.parse(l) as EventView).position)).toEqual([1, 2, 3]);
    expect(r.requests.map((q) => q.query.get('limit'))).toEqual(['3', '1']);
  });

  it('--format csv', async () => {
    const r = await strata(['events', '--format', 'csv'], pages(five.slice(0, 1), 10));
    // The same columns and line ends as the node's own export (GET /events?format=csv).
    expect(r.out).toBe(
      'position,occurredAt,type,schemaVersion,streamId,version,actor,commandId,correlationId,causationId,nodeId,eventId,data\r\n' +
        '1,2024-05-01T10:00:01.000Z,ImageTagged,1,repository-app,1,admin,c1,c1,,node-1,e1,"{""tag"":""latest""}"\r\n',
    );
  });

  it('--follow --since: the history, then the live stream from the last event shown', async () => {
    const r = await strata(['events', '--since', '1', '--follow', '--limit', '4', '--filter', 'type=ImageTagged'], (q, res) => {
      if (q.path === '/events') return sendJson(res, 200, { items: five.slice(0, 2), next: null, position: 2 });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // The stand-in ignores the filter: the CLI filters too.
      for (const e of [event(3, 'RepositoryCreated'), event(4), event(5)]) res.write(`id: ${e.position}\ndata: ${JSON.stringify(e)}\n\n`);
    });
    expect(r.code).toBe(0);
    expect(r.out.trimEnd().split('\n').slice(1).map((l) => Number(l.split(/\s+/)[1]))).toEqual([1, 2, 4, 5]);
    expect(r.requests[1]!.path).toBe('/events/stream');
    expect(r.requests[1]!.query.get('after')).toBe('2');
    expect(r.requests[1]!.query.get('type')).toBe('ImageTagged');
  });

  it('--follow: a resync notice ends with exit code 3', async () => {
    const r = await strata(['events', '--follow'], (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`event: resync\ndata: ${JSON.stringify({ code: 'RESYNC_REQUIRED', message: 'position 5 is no longer retained', oldestRetained: 900 })}\n\n`);
    });
    expect(r.code).toBe(3);
    expect(r.err).toContain('error: position 5 is no longer retained (RESYNC_REQUIRED)\n');
    expect(r.err).toContain('--since 900');
  });

  it('usage errors: bad bounds, filters, formats', async () => {
    for (const args of [
      ['events', '--since', 'yesterday'],
      ['events', '--filter', 'colour=red'],
      ['events', '--format', 'xml'],
      ['events', '--json', '--format', 'csv'],
      ['events', '--follow', '--at', '5'],
      ['events', '--limit', '0'],
    ]) {
      const r = await strata(args, () => undefined);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(/^error: /);
    }
    expect(node!.requests).toHaveLength(0);
  });
});

describe('replay', () => {
  const replay: Handler = (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write('{"kind":"progress","position":500,"head":1000,"events":500}\n');
    res.end('{"kind":"result","checksumBefore":"c0ffee","checksumAfter":"c0ffee","events":1000,"seconds":1.25}\n');
  };

  it('--json prints exactly the four result fields', async () => {
    const r = await strata(['replay', '--json'], replay);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toStrictEqual({ checksumBefore: 'c0ffee', checksumAfter: 'c0ffee', events: 1000, seconds: 1.25 });
    expect(r.requests[0]).toMatchObject({ method: 'POST', path: '/admin/replay' });
  });

  it('prints checksums, events and seconds; plain progress lines without a terminal', async () => {
    const r = await strata(['replay'], replay);
    expect(r.out).toBe(
      'events            1000\nseconds           1.25\nchecksum before   c0ffee\nchecksum after    c0ffee\n' +
        'checksums match: the rebuilt read models are identical\n',
    );
    expect(r.err).toBe('replay: position 500/1000 (50%), 500 events\n');
  });
});

describe('failures', () => {
  it('an HTTP error: `error: <detail> (<code>)` on stderr, exit 1, nothing on stdout', async () => {
    const r = await strata(['repo', 'tags', 'ghost'], (_q, res) => sendProblem(res, 404, 'REPOSITORY_NOT_FOUND', 'repository "ghost" does not exist'));
    expect(r).toMatchObject({ code: 1, out: '', err: 'error: repository "ghost" does not exist (REPOSITORY_NOT_FOUND)\n' });
  });

  it('a usage error: exit 2, nothing sent', async () => {
    for (const args of [['tag', 'sha256:abc', 'app:v1'], ['repo', 'visibility', 'app', 'secret'], ['repo', 'create'], ['repo', 'ls', '--bogus'], ['repo', 'create', 'a', '--public', '--private']]) {
      const r = await strata(args, () => undefined);
      expect(r.code, args.join(' ')).toBe(2);
    }
    expect(node!.requests).toHaveLength(0);
  });

  it('an unreachable node: says where and how to start one', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const { io, err } = captureIo({ STRATA_URL: url });
    expect(await run(['status'], io)).toBe(1);
    expect(err()).toContain(`error: the Strata node is not reachable at ${url} (connection refused)`);
    expect(err()).toContain('strata serve');
  });

  it('--help and --version succeed', async () => {
    const { io, out } = captureIo({});
    expect(await run(['--help'], io)).toBe(0);
    expect(out()).toContain('Usage: strata');
    expect(await run(['--version'], io)).toBe(0);
  });
});

describe('token', () => {
  it('reads $STRATA_DATA_DIR/admin.token when neither --token nor STRATA_TOKEN is given', async () => {
    const dir = tempDir('strata-cli-');
    writeFileSync(join(dir, 'admin.token'), 'strata_from_file\n');
    const r = await strata(['repo', 'ls'], (_q, res) => sendJson(res, 200, { items: [], position: 0 }), {
      STRATA_TOKEN: undefined,
      STRATA_DATA_DIR: dir,
    });
    expect(r.requests[0]!.headers.authorization).toBe('Bearer strata_from_file');
    const flag = await strata(['repo', 'ls', '--token', 'from-flag'], () => undefined, { STRATA_DATA_DIR: dir });
    expect(flag.requests[1]!.headers.authorization).toBe('Bearer from-flag');
  });

  it('a 401 without any token says where a token comes from', async () => {
    const dir = tempDir('strata-cli-');
    const r = await strata(['repo', 'ls'], (_q, res) => sendProblem(res, 401, 'UNAUTHENTICATED', 'an API token is required'), {
      STRATA_TOKEN: undefined,
      STRATA_DATA_DIR: dir,
    });
    expect(r.code).toBe(1);
    expect(r.requests[0]!.headers.authorization).toBeUndefined();
    expect(r.err).toBe(
      'error: an API token is required (UNAUTHENTICATED)\nhint: no API token: pass --token or set STRATA_TOKEN (a local node writes its admin token to $STRATA_DATA_DIR/admin.token, default ./.strata/admin.token)\n',
    );
  });
});

describe('a node that breaks the contract', () => {
  it('is reported as such, not as a crash', async () => {
    const r = await strata(['repo', 'ls'], (_q, res) => sendJson(res, 200, { items: { items: [] }, position: 1 }));
    expect(r).toMatchObject({ code: 1, out: '' });
    expect(r.err).toBe('error: GET /repositories answered without an items array: the node does not follow the API contract\n');
  });
});
