/**
 * The HTTP client against a real HTTP server (node:http on 127.0.0.1, port 0) that stands in for the
 * Strata node: it answers fixed problem+json, NDJSON and SSE bodies, and records what the client sent.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventView, ReplayProgress } from '@strata/api';
import { StrataClient } from './client.js';
import { ProblemError, ProtocolError, ResyncError, UnreachableError } from './errors.js';
import { closedPort, sendJson, sendProblem, startFakeNode, type FakeNode, type Handler } from './testing/fake-node.js';

let node: FakeNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

async function fake(handler: Handler) {
  node = await startFakeNode(handler);
  return { node, client: new StrataClient({ url: node.url, token: 'tok-123', retryDelayMs: 5, timeoutMs: 3000 }) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const event = (position: number, type = 'ImageTagged'): EventView => ({
  eventId: `e${position}`,
  type,
  schemaVersion: 1,
  streamId: 'repository-app',
  version: position,
  position,
  occurredAt: new Date(Date.UTC(2024, 4, 1, 10, 0, position)).toISOString(),
  actor: 'admin',
  commandId: `c${position}`,
  correlationId: `c${position}`,
  causationId: null,
  nodeId: 'node-1',
  data: {},
});

const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
const sseEvent = (e: EventView) => `id: ${e.position}\ndata: ${JSON.stringify(e)}\n\n`;

describe('queries and commands', () => {
  it('sends the token, encodes the query, and parses the JSON answer', async () => {
    const { node, client } = await fake((_req, res) => sendJson(res, 200, { items: [], position: 7 }));
    const reply = await client.get('/repositories/library%2Fapp/history', {
      tag: 'latest',
      at: '2024-05-01T10:00:00.000Z',
      minPosition: undefined,
      type: ['A', 'B'],
      force: false,
    });
    expect(reply).toEqual({ items: [], position: 7 });
    const [req] = node.requests;
    expect(req!.method).toBe('GET');
    expect(req!.path).toBe('/repositories/library%2Fapp/history');
    expect(req!.query.get('tag')).toBe('latest');
    expect(req!.query.get('at')).toBe('2024-05-01T10:00:00.000Z');
    expect(req!.query.getAll('type')).toEqual(['A', 'B']);
    expect(req!.query.has('minPosition')).toBe(false);
    expect(req!.query.has('force')).toBe(false);
    expect(req!.headers.authorization).toBe('Bearer tok-123');
    expect(req!.headers['idempotency-key']).toBeUndefined();
  });

  it('sends commands as JSON with a fresh Idempotency-Key each', async () => {
    const reply = { commandId: 'x', streamId: 'repository-app', version: 1, position: 12, events: ['RepositoryCreated'], duplicate: false };
    const { node, client } = await fake((_req, res) => sendJson(res, 201, reply));
    expect(await client.command('POST', '/repositories', { name: 'app', visibility: 'public' })).toEqual(reply);
    await client.command('DELETE', '/repositories/app', undefined, { force: true });
    const [create, remove] = node.requests;
    expect(JSON.parse(create!.body)).toEqual({ name: 'app', visibility: 'public' });
    expect(create!.headers['content-type']).toBe('application/json');
    expect(create!.headers['idempotency-key']).toMatch(UUID);
    expect(remove!.url).toBe('/repositories/app?force=true');
    expect(remove!.body).toBe('');
    expect(remove!.headers['idempotency-key']).toMatch(UUID);
    expect(remove!.headers['idempotency-key']).not.toBe(create!.headers['idempotency-key']);
  });

  it('accepts 204 No Content', async () => {
    const { client } = await fake((_req, res) => void res.writeHead(204).end());
    expect(await client.get('/nothing')).toBeUndefined();
  });

  it('turns problem+json into a ProblemError with the stable code and detail', async () => {
    const { client } = await fake((_req, res) =>
      sendProblem(res, 404, 'REPOSITORY_NOT_FOUND', 'repository "app" does not exist', { name: 'app' }),
    );
    const error = await client.get('/repositories/app/tags').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    const problem = (error as ProblemError).problem;
    expect(problem).toMatchObject({ status: 404, code: 'REPOSITORY_NOT_FOUND', detail: 'repository "app" does not exist', name: 'app' });
    expect((error as ProblemError).message).toBe('repository "app" does not exist');
  });

  it('describes a non-JSON error page as HTTP_<status>', async () => {
    const { client } = await fake((_req, res) =>
      void res.writeHead(502, { 'content-type': 'text/html' }).end('<html>\n  <h1>Bad Gateway</h1></html>'),
    );
    const error = (await client.get('/status').catch((e: unknown) => e)) as ProblemError;
    expect(error).toBeInstanceOf(ProblemError);
    expect(error.problem).toMatchObject({ status: 502, code: 'HTTP_502', detail: '<html> <h1>Bad Gateway</h1></html>' });
  });

  it('retries once, with the same Idempotency-Key, when the connection drops before an answer', async () => {
    let calls = 0;
    const { node, client } = await fake((_req, res) => {
      calls += 1;
      if (calls === 1) return void res.socket?.destroy(); // the command may or may not have run
      sendJson(res, 200, { commandId: 'x', streamId: 's', version: 1, position: 3, events: [], duplicate: true });
    });
    const reply = await client.command('PUT', '/repositories/app/visibility', { visibility: 'public' });
    expect(reply.duplicate).toBe(true);
    expect(node.requests).toHaveLength(2);
    expect(node.requests[0]!.headers['idempotency-key']).toMatch(UUID);
    expect(node.requests[1]!.headers['idempotency-key']).toBe(node.requests[0]!.headers['idempotency-key']);
  });

  it('gives up after the one retry', async () => {
    const { node, client } = await fake((_req, res) => void res.socket?.destroy());
    await expect(client.get('/status')).rejects.toBeInstanceOf(UnreachableError);
    expect(node.requests).toHaveLength(2);
  });

  it('does not retry an HTTP error', async () => {
    const { node, client } = await fake((_req, res) => sendProblem(res, 503, 'NOT_READY', 'projections are catching up'));
    await expect(client.get('/status')).rejects.toBeInstanceOf(ProblemError);
    expect(node.requests).toHaveLength(1);
  });

  it('reports connection refused as an unreachable node, naming the URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const client = new StrataClient({ url, token: null, retryDelayMs: 5 });
    const error = (await client.get('/status').catch((e: unknown) => e)) as UnreachableError;
    expect(error).toBeInstanceOf(UnreachableError);
    expect(error.reason).toBe('connection refused');
    expect(error.message).toBe(`the Strata node is not reachable at ${url} (connection refused)`);
  });

  it('times out a node that never answers', async () => {
    node = await startFakeNode(() => undefined);
    const client = new StrataClient({ url: node.url, token: null, timeoutMs: 200 });
    await expect(client.get('/status')).rejects.toThrow(/no answer within 0.2 s/);
  });
});

describe('replay (NDJSON)', () => {
  it('reports progress lines and returns the result line, even when lines are split across chunks', async () => {
    const { node, client } = await fake(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"kind":"progress","position":50,"head":100,"events":50}\n{"kind":"pro');
      await new Promise((r) => setTimeout(r, 20));
      res.write('gress","position":100,"head":100,"events":100}\n');
      res.end('{"kind":"result","checksumBefore":"abc","checksumAfter":"abc","events":100,"seconds":0.5}\n');
    });
    const seen: ReplayProgress[] = [];
    const result = await client.replay((p) => seen.push(p));
    expect(seen.map((p) => p.position)).toEqual([50, 100]);
    expect(result).toEqual({ kind: 'result', checksumBefore: 'abc', checksumAfter: 'abc', events: 100, seconds: 0.5 });
    expect(node.requests[0]!.method).toBe('POST');
    expect(node.requests[0]!.path).toBe('/admin/replay');
    expect(node.requests[0]!.headers['idempotency-key']).toMatch(UUID);
  });

  it('fails when the stream ends without a result', async () => {
    const { client } = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.end('{"kind":"progress","position":1,"head":9,"events":1}\n');
    });
    await expect(client.replay(() => undefined)).rejects.toBeInstanceOf(ProtocolError);
  });

  it('fails when the connection is cut in the middle', async () => {
    const { client } = await fake(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"kind":"progress","position":1,"head":9,"events":1}\n');
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
    });
    await expect(client.replay(() => undefined)).rejects.toThrow();
  });

  it('raises a problem sent in-band after the 200', async () => {
    const { client } = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.end('{"type":"about:blank","title":"Replay failed","status":500,"code":"REPLAY_FAILED","detail":"disk full"}\n');
    });
    await expect(client.replay(() => undefined)).rejects.toMatchObject({ problem: { code: 'REPLAY_FAILED', detail: 'disk full' } });
  });

  it('refuses with the problem when the node says no before streaming', async () => {
    const { client } = await fake((_req, res) => sendProblem(res, 409, 'REPLAY_RUNNING', 'a replay is already running'));
    await expect(client.replay(() => undefined)).rejects.toMatchObject({ problem: { code: 'REPLAY_RUNNING' } });
  });
});

describe('follow (SSE)', () => {
  const take = async (it: AsyncIterable<EventView>, n: number) => {
    const out: number[] = [];
    for await (const e of it) {
      out.push(e.position);
      if (out.length === n) break;
    }
    return out;
  };

  it('yields events, skips keep-alives, and resumes with Last-Event-ID after a dropped connection', async () => {
    let connections = 0;
    const { node, client } = await fake(async (req, res) => {
      connections += 1;
      sse(res);
      if (connections === 1) {
        res.write(': keep-alive\n\n');
        res.write(sseEvent(event(5)) + sseEvent(event(6)).slice(0, 10));
        await new Promise((r) => setTimeout(r, 20));
        res.write(sseEvent(event(6)).slice(10));
        await new Promise((r) => setTimeout(r, 20));
        res.socket?.destroy(); // the line drops
        return;
      }
      // The node repeats 6 (it was in flight), then goes on: the client must not print 6 twice.
      expect(req.headers['last-event-id']).toBe('6');
      res.write(sseEvent(event(6)) + sseEvent(event(7)));
    });
    const reconnects: (number | null)[] = [];
    const positions = await take(
      client.follow({ after: 4, query: { stream: 'repository-app' }, onReconnect: (_n, last) => reconnects.push(last) }),
      3,
    );
    expect(positions).toEqual([5, 6, 7]);
    expect(reconnects).toEqual([6]);
    expect(node.requests[0]!.path).toBe('/events/stream');
    expect(node.requests[0]!.query.get('after')).toBe('4');
    expect(node.requests[0]!.query.get('stream')).toBe('repository-app');
    expect(node.requests[0]!.headers['last-event-id']).toBeUndefined();
    expect(node.requests[0]!.headers.accept).toMatch(/text\/event-stream/);
    expect(node.requests[1]!.query.get('after')).toBe('6');
  });

  it('starts from now when given no position', async () => {
    const { node, client } = await fake((_req, res) => {
      sse(res);
      res.write(sseEvent(event(40)));
    });
    expect(await take(client.follow({ after: null }), 1)).toEqual([40]);
    expect(node.requests[0]!.query.has('after')).toBe(false);
  });

  it('throws ResyncError on `event: resync`', async () => {
    const notice = { code: 'RESYNC_REQUIRED', message: 'position 3 is no longer retained', oldestRetained: 1000 };
    const { client } = await fake((_req, res) => {
      sse(res);
      res.end(`event: resync\ndata: ${JSON.stringify(notice)}\n\n`);
    });
    const error = (await take(client.follow({ after: 3 }), 1).catch((e: unknown) => e)) as ResyncError;
    expect(error).toBeInstanceOf(ResyncError);
    expect(error.notice).toEqual(notice);
  });

  it('does not reconnect on a refusal', async () => {
    const { node, client } = await fake((_req, res) => sendProblem(res, 401, 'UNAUTHENTICATED', 'missing or invalid token'));
    await expect(take(client.follow({ after: null }), 1)).rejects.toMatchObject({ problem: { code: 'UNAUTHENTICATED' } });
    expect(node.requests).toHaveLength(1);
  });

  it('gives up after a bounded number of reconnections', async () => {
    let connections = 0;
    const { node, client } = await fake((_req, res) => {
      connections += 1;
      sse(res);
      if (connections === 1) return void res.end(sseEvent(event(1)));
      res.end(); // every later connection closes at once, with nothing
    });
    const error = await take(client.follow({ after: 0, maxRetries: 3 }), 5).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toMatch(/after 3 reconnection attempts/);
    expect(node.requests).toHaveLength(4);
    expect(node.requests.slice(1).map((r) => r.headers['last-event-id'])).toEqual(['1', '1', '1']);
  });

  it('ends quietly when its signal aborts', async () => {
    const { client } = await fake((_req, res) => {
      sse(res);
      res.write(sseEvent(event(1)));
    });
    const stop = new AbortController();
    const seen: number[] = [];
    for await (const e of client.follow({ after: 0, signal: stop.signal })) {
      seen.push(e.position);
      setTimeout(() => stop.abort(), 10);
    }
    expect(seen).toEqual([1]);
  });
});
