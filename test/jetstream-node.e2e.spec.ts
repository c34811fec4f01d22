import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../libs/eventstore/src/testing/nats-server.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';

// Every test its own nats-server (free loopback port, temporary store): a node's stream owns the
// subjects strata.events.>, so two tests cannot share one server.
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function nats(): Promise<NatsServerHandle> {
  const server = await startNatsServer();
  cleanups.push(() => server.stop());
  return server;
}

async function node(server: NatsServerHandle, options: { dataDir?: string } = {}): Promise<TestNode> {
  const t = await startTestNode({ ...options, env: { STRATA_NATS_URL: server.url } });
  cleanups.push(() => t.stop());
  return t;
}

async function client(server: NatsServerHandle): Promise<NatsConnection> {
  const nc = await connect({ servers: server.url });
  cleanups.push(() => nc.close());
  return nc;
}

/** A command over NATS, as automation sends it: JSON body, token and idempotency key in headers. */
async function send(nc: NatsConnection, name: string, input: unknown, options: { token?: string | null; key?: string } = {}) {
  const h = headers();
  if (options.token !== null) h.set('Authorization', `Bearer ${options.token ?? ADMIN_TOKEN}`);
  if (options.key) h.set('Idempotency-Key', options.key);
  const reply = await nc.request(`strata.cmd.${name}`, JSON.stringify(input), { timeout: 10_000, headers: h });
  return { status: Number(reply.headers?.get('Strata-Status')), position: reply.headers?.get('Strata-Position'), body: reply.json<any>() };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a node on NATS JetStream', () => {
  it('appends to the stream, puts every event on a subject with its type in the headers, and reads its projections', async () => {
    const server = await nats();
    const t = await node(server);
    const nc = await client(server);
    const seen = nc.subscribe('strata.events.repository.>', { max: 1 });

    const created = await t.json('POST', '/repositories', { name: 'team/app', visibility: 'public' });
    expect(created.status).toBe(201);
    for await (const m of seen) {
      expect(m.subject).toBe('strata.events.repository.team/app');
      expect(m.headers?.get('Strata-Event-Types')).toBe('RepositoryCreated');
      expect(decodeURIComponent(m.headers!.get('Strata-Stream-Id'))).toBe('repository-team/app');
      expect(m.json<any>().events[0].data).toMatchObject({ name: 'team/app' });
    }
    const listed = await t.json('GET', `/repositories?minPosition=${created.body.position}`);
    expect(listed.body.items.map((r: { name: string }) => r.name)).toEqual(['team/app']);
    const health = await t.json('GET', '/healthz');
    expect(health.body).toMatchObject({ status: 'ok', eventLog: { backend: 'jetstream', connected: true }, head: created.body.position });
    expect((await t.json('GET', '/status')).body.backend).toBe('jetstream');
  });

  it('takes every HTTP command over NATS request/reply, with the same validation, actor and error codes', async () => {
    const server = await nats();
    const t = await node(server);
    const nc = await client(server);

    const ok = await send(nc, 'CreateRepository', { name: 'auto/one' }, { key: 'create-auto-one' });
    expect(ok.status).toBe(200);
    expect(ok.body.ok).toBe(true);
    expect(ok.body.result).toMatchObject({ commandId: 'create-auto-one', events: ['RepositoryCreated'], duplicate: false });
    expect(Number(ok.position)).toBe(ok.body.result.position);
    const again = await send(nc, 'CreateRepository', { name: 'auto/one' }, { key: 'create-auto-one' });
    expect(again.body.result).toMatchObject({ duplicate: true, position: ok.body.result.position });

    // The same refusal as over HTTP, with the same status and code.
    const viaNats = await send(nc, 'CreateRepository', { name: 'auto/one' });
    const viaHttp = await t.json('POST', '/repositories', { name: 'auto/one' });
    expect(viaNats.body.problem.code).toBe(viaHttp.body.code);
    expect(viaNats.status).toBe(viaHttp.status);

    expect((await send(nc, 'CreateRepository', { name: 'Bad Name' })).body.problem).toMatchObject({ status: 400, code: 'INVALID_REPOSITORY_NAME' });
    expect((await send(nc, 'CreateRepository', { name: 'auto/two' }, { token: null })).body.problem).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect((await send(nc, 'CreateRepository', { name: 'auto/two' }, { token: 'wrong-token-wrong-token' })).status).toBe(401);
    expect((await send(nc, 'NoSuchCommand', {})).body.problem).toMatchObject({ status: 404, code: 'UNKNOWN_COMMAND' });
    expect((await send(nc, 'StartContainer', { container: 'nope' })).body.problem).toMatchObject({ status: 404, code: 'CONTAINER_NOT_FOUND' });
    const internal = await send(nc, 'RecordCommit', {});
    expect(internal.body.problem.code).toBe('UNKNOWN_COMMAND'); // what the node records itself is not a command anyone sends

    // The actor of the event is the token's principal.
    const history = await t.json('GET', `/events?stream=${encodeURIComponent('repository-auto/one')}&minPosition=${ok.body.result.position}`);
    expect(history.body.items[0]).toMatchObject({ type: 'RepositoryCreated', actor: 'admin', commandId: 'create-auto-one' });
  });

  it('replays and travels in time on JetStream as on SQLite', async () => {
    const server = await nats();
    const t = await node(server);
    await t.json('POST', '/repositories', { name: 'tt/app', visibility: 'public' });
    const publicAt = (await t.json('GET', '/healthz')).body.head as number;
    await new Promise((resolve) => setTimeout(resolve, 20)); // a later millisecond for ?at=<time>
    const between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const privateAt = (await t.json('PUT', '/repositories/tt%2Fapp/visibility', { visibility: 'private' })).body.position as number;
    expect(privateAt).toBeGreaterThan(publicAt);

    expect((await t.json('GET', `/repositories/tt%2Fapp?at=${publicAt}`)).body.visibility).toBe('public');
    expect((await t.json('GET', `/repositories/tt%2Fapp?at=${encodeURIComponent(between)}`)).body.visibility).toBe('public');
    expect((await t.json('GET', `/repositories/tt%2Fapp?minPosition=${privateAt}`)).body.visibility).toBe('private');

    const logged = (await t.json('GET', `/events?limit=1000&minPosition=${privateAt}`)).body.items.length as number; // with the node's own NodeJoined
    const replay = await t.call('POST', '/admin/replay');
    expect(replay.status).toBe(200);
    const lines = (await replay.text()).trim().split('\n').map((l) => JSON.parse(l));
    const result = lines.find((l) => l.kind === 'result');
    expect(result.checksumAfter).toBe(result.checksumBefore);
    expect(result.events).toBe(logged);
  });

  it('fails fast at start when NATS is unreachable, saying what to do', async () => {
    const server = await nats();
    await server.crash();
    await expect(startTestNode({ env: { STRATA_NATS_URL: server.url } })).rejects.toThrow(/cannot reach NATS at nats:\/\/127\.0\.0\.1:\d+.*nats-server -js/);
  });

  it('keeps serving reads during a NATS outage, refuses writes with 503, and resumes by itself', async () => {
    const server = await nats();
    const t = await node(server);
    const first = await t.json('POST', '/repositories', { name: 'before/outage' });
    expect(first.status).toBe(201);

    await server.crash();
    const degraded = await until('healthz to say degraded', async () => {
      const h = await t.json('GET', '/healthz');
      return h.body.status === 'degraded' ? h.body : undefined;
    });
    expect(degraded.eventLog).toMatchObject({ backend: 'jetstream', connected: false });
    const read = await t.json('GET', '/repositories');
    expect(read.status).toBe(200);
    expect(read.body.items.map((r: { name: string }) => r.name)).toEqual(['before/outage']);
    const refused = await t.json('POST', '/repositories', { name: 'during/outage' });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('EVENT_LOG_UNAVAILABLE');

    await server.restart();
    const after = await until('a write after NATS came back', async () => {
      const r = await t.json('POST', '/repositories', { name: 'after/outage' });
      return r.status === 201 ? r.body : undefined;
    });
    const listed = await t.json('GET', `/repositories?minPosition=${after.position}`);
    expect(listed.body.items.map((r: { name: string }) => r.name).sort()).toEqual(['after/outage', 'before/outage']);
    expect((await t.json('GET', '/healthz')).body.status).toBe('ok');
  });

  it('loses and duplicates nothing when nats-server is killed and restarted in the middle of a load', async () => {
    const server = await nats();
    const t = await node(server);
    const total = 120;
    const acknowledged = new Set<string>();
    let next = 0;
    let restarted = false;
    // Eight writers; each command is retried with its own Idempotency-Key until it is answered.
    const worker = async () => {
      for (let i = next++; i < total; i = next++) {
        if (i === total / 3 && !restarted) {
          restarted = true;
          void server.restart();
        }
        const key = `load-${i}`;
        for (let attempt = 0; ; attempt++) {
          expect(attempt, `command ${key} was never answered`).toBeLessThan(200);
          const r = await t.json('POST', '/repositories', { name: `load/r${i}` }, { 'idempotency-key': key }).catch(() => ({ status: 0, body: null }));
          if (r.status === 201 || r.status === 200) {
            acknowledged.add(key);
            break;
          }
          expect([0, 503, 504]).toContain(r.status);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(restarted).toBe(true);
    expect(acknowledged.size).toBe(total);

    // Every acknowledged command's event is in the stream exactly once.
    const head = (await t.json('GET', '/healthz')).body.head as number;
    const events = await t.json('GET', `/events?category=repository&limit=1000&minPosition=${head}`);
    const counts = new Map<string, number>();
    for (const e of events.body.items as Array<{ commandId: string }>) counts.set(e.commandId, (counts.get(e.commandId) ?? 0) + 1);
    for (const key of acknowledged) expect(counts.get(key), key).toBe(1);
    expect(events.body.items).toHaveLength(total);

    // The live projections equal a fresh replay of the same stream by a node that never saw the outage.
    // (as of the same position: the fresh node's own NodeJoined comes after it)
    const live = await t.json('GET', `/admin/checksum?at=${head}`);
    const fresh = await node(server);
    const replayed = await fresh.json('GET', `/admin/checksum?at=${head}`);
    expect(replayed.body.checksum).toBe(live.body.checksum);
    expect(replayed.body.position).toBe(head);
  });

  it('catches up after a restart: a node stopped while others wrote reaches the same checksum', async () => {
    const server = await nats();
    const a = await startTestNode({ keepData: true, env: { STRATA_NATS_URL: server.url } });
    await a.json('POST', '/repositories', { name: 'seen/first' });
    const dataDir = a.dataDir;
    await a.stop();
    const b = await node(server);
    let last = 0;
    for (let i = 0; i < 20; i++) last = (await b.json('POST', '/repositories', { name: `while/away${i}` })).body.position;
    const again = await node(server, { dataDir });
    const [x, y] = await Promise.all([again.json('GET', `/admin/checksum?minPosition=${last}`), b.json('GET', `/admin/checksum?minPosition=${last}`)]);
    expect(x.body.checksum).toBe(y.body.checksum);
    expect((await again.json('GET', '/repositories')).body.items).toHaveLength(21);
  });
});
