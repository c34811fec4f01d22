import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importImage } from './support/images.js';
import { ADMIN_TOKEN, digestOf, startTestNode, type TestNode } from './support/test-node.js';

/** The HTTP API against a real node (real SQLite files): commands, queries, and every kind of bad input. */
describe('HTTP API', () => {
  let t: TestNode;
  /** Manifest digests of real (tiny) images: tags point only at images that exist. */
  const images: string[] = [];
  const image = (n: number) => images[n - 1]!;
  beforeAll(async () => {
    t = await startTestNode();
    for (let n = 1; n <= 8; n++) images.push(await importImage(t.url, ADMIN_TOKEN, `image-${n}`));
  });
  afterAll(() => t.stop());

  const head = async () => (await t.json('GET', '/healthz')).body.head as number;

  it('answers /healthz without a token and everything else only with one', async () => {
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    for (const [path, token] of [['/repositories', null], ['/events', 'wrong-token'], ['/metrics', null]] as const) {
      const r = await fetch(`${t.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect(r.status).toBe(401);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await r.json()) as { code: string }).code).toBe('UNAUTHORIZED');
    }
  });

  it('creates a repository, tags, moves and untags, and reads its own writes', async () => {
    const created = await t.json('POST', '/repositories', { name: 'library/app', visibility: 'public' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ streamId: 'repository-library/app', version: 1, events: ['RepositoryCreated'], duplicate: false });
    const name = encodeURIComponent('library/app');
    await t.json('PUT', `/repositories/${name}/tags/latest`, { digest: image(1) });
    const moved = await t.json('PUT', `/repositories/${name}/tags/latest`, { digest: image(2) });
    expect(moved.body.events).toEqual(['ImageTagged']);
    const copied = await t.json('PUT', `/repositories/${name}/tags/stable`, { source: 'library/app:latest' });
    expect(copied.status).toBe(200);

    const tags = await t.json('GET', `/repositories/${name}/tags?minPosition=${copied.body.position}`);
    expect(tags.body.items.map((x: any) => [x.tag, x.digest])).toEqual([['latest', image(2)], ['stable', image(2)]]);
    const history = await t.json('GET', `/repositories/${name}/history?tag=latest&minPosition=${copied.body.position}`);
    expect(history.body.items.map((m: any) => [m.from, m.to, m.by])).toEqual([
      [null, image(1), 'admin'],
      [image(1), image(2), 'admin'],
    ]);
    // Time travel: before the move, latest pointed at build 1.
    const before = await t.json('GET', `/repositories/${name}/tags/latest?at=${moved.body.position - 1}`);
    expect(before.body.digest).toBe(image(1));

    const untagged = await t.json('DELETE', `/repositories/${name}/tags/stable`);
    expect(untagged.body.events).toEqual(['ImageUntagged']);
    const refused = await t.json('DELETE', `/repositories/${name}`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('REPOSITORY_NOT_EMPTY');
    const removed = await t.json('DELETE', `/repositories/${name}?force=true`);
    expect(removed.body.events).toEqual(['RepositoryDeleted']);
  });

  it('answers a retried Idempotency-Key with the first result and appends nothing', async () => {
    const key = { 'idempotency-key': 'create-once-1' };
    const first = await t.json('POST', '/repositories', { name: 'once' }, key);
    const positionAfterFirst = await head();
    const again = await t.json('POST', '/repositories', { name: 'once' }, key);
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ position: first.body.position, duplicate: true });
    expect(await head()).toBe(positionAfterFirst);
    const conflict = await t.json('POST', '/repositories', { name: 'once' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('REPOSITORY_EXISTS');
  });

  it('refuses bad input with problem+json and leaves the log unchanged', async () => {
    const cases: Array<[string, string, unknown, Record<string, string>, number, string]> = [
      ['POST', '/repositories', '{"name": "broken"', { 'content-type': 'application/json' }, 400, 'MALFORMED_JSON'],
      ['POST', '/repositories', '{"name": "x"}', { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['POST', '/repositories', { name: 'Upper/Case' }, {}, 400, 'INVALID_REPOSITORY_NAME'],
      ['POST', '/repositories', { name: 'a//b' }, {}, 400, 'INVALID_REPOSITORY_NAME'],
      ['POST', '/repositories', { name: '-lead' }, {}, 400, 'INVALID_REPOSITORY_NAME'],
      ['POST', '/repositories', { name: 'ok', visibility: 'secret' }, {}, 400, 'VALIDATION_FAILED'],
      ['POST', '/repositories', { name: 'ok', extra: 1 }, {}, 400, 'VALIDATION_FAILED'],
      ['POST', '/repositories', [1, 2], {}, 400, 'VALIDATION_FAILED'],
      ['POST', '/repositories', { name: 'x'.repeat(2 * 1024 * 1024) }, {}, 413, 'PAYLOAD_TOO_LARGE'],
      ['PUT', '/repositories/nope/tags/latest', { digest: 'sha256:1234' }, {}, 400, 'INVALID_DIGEST'],
      ['PUT', '/repositories/nope/tags/bad%20tag', { digest: digestOf(1) }, {}, 400, 'INVALID_TAG'],
      ['PUT', '/repositories/nope/tags/latest', { digest: digestOf(1), source: 'a:b' }, {}, 400, 'VALIDATION_FAILED'],
      ['PUT', '/repositories/nope/tags/latest', { digest: digestOf(1) }, {}, 404, 'IMAGE_NOT_FOUND'],
      ['PUT', '/repositories/nope/tags/latest', { image: 'no/such:image' }, {}, 404, 'IMAGE_NOT_FOUND'],
      ['POST', '/commands/CreateImage', { image: {} }, {}, 403, 'INTERNAL_COMMAND'],
      ['PUT', '/repositories/nope/tags/latest', { source: 'missing:tag' }, {}, 404, 'TAG_NOT_FOUND'],
      ['DELETE', '/repositories/missing/tags/latest', undefined, {}, 404, 'REPOSITORY_NOT_FOUND'],
      ['DELETE', '/repositories/missing', undefined, {}, 404, 'REPOSITORY_NOT_FOUND'],
      ['PUT', '/repositories/missing/visibility', { visibility: 'public' }, {}, 404, 'REPOSITORY_NOT_FOUND'],
      ['GET', '/repositories/missing', undefined, {}, 404, 'REPOSITORY_NOT_FOUND'],
      ['GET', '/repositories?at=yesterday-ish', undefined, {}, 400, 'INVALID_TIME'],
      ['GET', '/repositories?minPosition=-1', undefined, {}, 400, 'INVALID_POSITION'],
      ['GET', '/events?limit=0', undefined, {}, 400, 'VALIDATION_FAILED'],
      ['POST', '/commands/NoSuchCommand', {}, {}, 404, 'UNKNOWN_COMMAND'],
      ['POST', '/repositories', { name: 'ok' }, { 'idempotency-key': 'has spaces' }, 400, 'INVALID_HEADER'],
      ['GET', '/no/such/route', undefined, {}, 404, 'ROUTE_NOT_FOUND'],
    ];
    const before = await head();
    for (const [method, path, body, headers, status, code] of cases) {
      const r = await t.call(method, path, body, headers);
      const text = await r.text();
      expect({ path, status: r.status, code: JSON.parse(text).code }).toEqual({ path, status, code });
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(text)).toMatchObject({ type: expect.stringMatching(/^urn:strata:problem:/), title: expect.any(String), detail: expect.any(String) });
    }
    expect(await head()).toBe(before);
  });

  it('racing commands on one stream: each is acknowledged once or refused with 409, never lost or doubled', async () => {
    await t.json('POST', '/repositories', { name: 'contended' });
    const before = await head();
    const replies = await Promise.all(
      Array.from({ length: 150 }, (_, i) => t.json('PUT', `/repositories/contended/tags/t${i}`, { digest: image((i % 8) + 1) })),
    );
    const ok = replies.filter((r) => r.status === 200);
    const conflicts = replies.filter((r) => r.status === 409);
    expect(ok.length + conflicts.length).toBe(150);
    expect(ok.length).toBeGreaterThan(8); // the retries let many through (the bound itself: execute-command.handler.spec.ts)
    for (const c of conflicts) expect(c.body.code).toBe('CONCURRENCY_CONFLICT');
    // Exactly the acknowledged commands are in the log, each once.
    expect((await head()) - before).toBe(ok.length);
    const versions = ok.map((r) => r.body.version).sort((a, b) => a - b);
    expect(new Set(versions).size).toBe(ok.length);
  });

  it('waits for ?minPosition= only as long as allowed, then says the read models are behind', async () => {
    const far = (await head()) + 1000;
    const t0 = Date.now();
    const r = await t.json('GET', `/repositories?minPosition=${far}`);
    expect(r.status).toBe(504);
    expect(r.body.code).toBe('READ_MODEL_BEHIND');
    expect(Date.now() - t0).toBeLessThan(30_000);
  });

  it('filters the audit log and exports it as NDJSON and CSV', async () => {
    const correlation = { 'x-correlation-id': 'story-42' };
    await t.json('POST', '/repositories', { name: 'audited' }, correlation);
    const last = await t.json('PUT', '/repositories/audited/tags/v1', { digest: image(7) }, correlation);
    const page = await t.json('GET', `/events?correlationId=story-42&minPosition=${last.body.position}`);
    expect(page.body.items.map((e: any) => e.type)).toEqual(['RepositoryCreated', 'ImageTagged']);
    expect(page.body.items[1]).toMatchObject({ actor: 'admin', nodeId: 'node-test', streamId: 'repository-audited', version: 2 });
    const byType = await t.json('GET', '/events?type=ImageTagged&category=repository&limit=1');
    expect(byType.body.items).toHaveLength(1);
    expect(byType.body.next).toEqual(expect.any(Number));
    const ndjson = await (await t.call('GET', '/events?correlationId=story-42&format=ndjson')).text();
    expect(ndjson.trim().split('\n').map((l) => JSON.parse(l).type)).toEqual(['RepositoryCreated', 'ImageTagged']);
    const csv = await t.call('GET', '/events?correlationId=story-42&format=csv');
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toMatch(/^position,occurredAt,type/);
    expect(lines).toHaveLength(3);
  });

  it('streams live events over SSE, resumable by Last-Event-ID, and refuses an unknown position with a resync', async () => {
    const start = await head();
    const controller = new AbortController();
    const response = await fetch(`${t.url}/events/stream?category=repository`, {
      headers: { authorization: 'Bearer test-admin-token-0123456789', 'last-event-id': String(start) },
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    await t.json('POST', '/repositories', { name: 'live-one' });
    let text = '';
    const deadline = Date.now() + 10_000;
    while (!text.includes('live-one') && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect(text).toMatch(new RegExp(`id: ${start + 1}\\ndata: .*"type":"RepositoryCreated"`));

    const future = await t.call('GET', '/events/stream', undefined, { 'last-event-id': String(start + 10_000) });
    const body = await future.text();
    expect(body).toContain('event: resync');
    expect(body).toContain('RESYNC_REQUIRED');
  });

  it('serves the OpenAPI document, metrics and status', async () => {
    const doc = await t.json('GET', '/openapi.json');
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toContain('/repositories/{name}/tags/{tag}');
    for (const path of ['/images/{ref}', '/containers/{ref}/commit', '/nodes', '/builds']) expect(Object.keys(doc.body.paths)).toContain(path);
    expect(Object.keys(doc.body.paths['/containers/{ref}'])).toEqual(['get', 'delete']);
    const metrics = await (await t.call('GET', '/metrics')).text();
    expect(metrics).toMatch(/strata_commands_total\{command="CreateRepository",outcome="ok"\} \d+/);
    const status = await t.json('GET', '/status');
    expect(status.body).toMatchObject({ nodeId: 'node-test', backend: 'sqlite', principal: 'admin' });
    const projections = await t.json('GET', '/admin/projections');
    expect(projections.body.projections.length).toBeGreaterThan(0);
  });
});
