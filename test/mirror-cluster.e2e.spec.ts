import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventsReply, ListReply, MirrorAddedReply, MirrorView, TagView } from '@strata/api';
import { startNatsServer, type NatsServerHandle } from '../libs/eventstore/src/testing/nats-server.js';
import { startChildNode, type ChildNode } from './support/child-node.js';
import { importImage } from './support/images.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';

const enc = encodeURIComponent;
const HEARTBEAT_MS = 250;
const TTL_MS = 4_000;
const CLUSTER_ENV = (url: string, nodeId: string) => ({ STRATA_NATS_URL: url, STRATA_NODE_ID: nodeId, STRATA_HEARTBEAT_MS: String(HEARTBEAT_MS), STRATA_NODE_TTL_MS: String(TTL_MS) });

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Two Strata nodes on one JetStream log (each its own process, so either can be killed) mirror a
 * repository of a third node (SQLite, in this process): the mirror's lease in `strata_mirror_leases`
 * makes exactly one of them run it; killing that one hands it to the other after the lease's TTL,
 * which starts with a full sync (nothing to pull: the shared log has every tag) and follows; a clean
 * stop hands it over at once. The local repository's log has each tag→digest once.
 */
describe('a mirror on a shared JetStream log: one runner, taken over when it dies', () => {
  let nats: NatsServerHandle;
  let source: TestNode;
  let work: string;
  const nodes = new Map<string, ChildNode>();
  const dirs = new Map<string, string>();

  const start = async (nodeId: string) => {
    const node = await startChildNode(dirs.get(nodeId)!, CLUSTER_ENV(nats.url, nodeId));
    nodes.set(nodeId, node);
    return node;
  };
  const view = async (nodeId: string, id: string) => (await nodes.get(nodeId)!.json<MirrorView>('GET', `/mirrors/${id}`)).body;
  const tags = async (node: ChildNode, repository: string) => {
    const { status, body } = await node.json<ListReply<TagView>>('GET', `/repositories/${enc(repository)}/tags`);
    return status === 404 ? {} : Object.fromEntries(body.items.map((t) => [t.tag, t.digest]));
  };
  const tagsBecome = (node: ChildNode, expected: Record<string, string>) =>
    until(`copy/app to be ${JSON.stringify(expected)}`, async () => {
      const now = await tags(node, 'copy/app');
      return JSON.stringify(Object.entries(now).sort()) === JSON.stringify(Object.entries(expected).sort()) ? now : undefined;
    });
  /** Both nodes name the same runner, which runs (following) while the other stands by. */
  const settledOn = (ids: string[], id: string, timeoutMs = 30_000) =>
    until(
      'one runner, following, the other on standby',
      async () => {
        const views = await Promise.all(ids.map((n) => view(n, id)));
        const runner = views[0]!.runner;
        if (!runner || views.some((v) => v.runner !== runner)) return undefined;
        const running = views.filter((v) => v.state !== 'standby');
        if (running.length !== 1 || ids[views.indexOf(running[0]!)] !== runner || running[0]!.state !== 'following') return undefined;
        return runner;
      },
      timeoutMs,
    );

  beforeAll(async () => {
    nats = await startNatsServer();
    work = mkdtempSync(join(tmpdir(), 'strata-mirror-cluster-'));
    for (const id of ['node-x', 'node-y']) dirs.set(id, join(work, id));
    source = await startTestNode({ nodeId: 'source' });
    await Promise.all(['node-x', 'node-y'].map(start));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...nodes.values()].map((n) => n.stop().catch(() => undefined)));
    await source?.stop();
    await nats?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs on exactly one node, moves to the other within a bounded time when it is killed, and logs each step once', async () => {
    const one = await importImage(source.url, ADMIN_TOKEN, 'lease-one', 'team/app:1');
    const created = await source.json<{ token: string }>('POST', '/tokens', { name: 'mirror', grants: ['admin:*'] });
    expect(created.status).toBe(201);

    // The same request (same Idempotency-Key) to both nodes: one mirror, and both nodes hold its credentials.
    const body = { source: source.url, repository: 'team/app', localRepository: 'copy/app', credentials: { username: 'mirror', password: created.body.token } };
    const post = async (node: ChildNode, request: unknown) => {
      const r = await fetch(`${node.url}/mirrors`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': 'mirror-lease-test' },
        body: JSON.stringify(request),
      });
      const text = await r.text();
      return { status: r.status, body: JSON.parse(text) as MirrorAddedReply & { code?: string } };
    };
    const added: MirrorAddedReply[] = [];
    for (const node of [nodes.get('node-x')!, nodes.get('node-y')!]) {
      const r = await post(node, body);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      added.push(r.body);
    }
    const id = added[0]!.mirror.id;
    expect(added.map((a) => [a.mirror.id, a.mirror.hasCredentials])).toEqual([
      [id, true],
      [id, true],
    ]);
    // The same key for another mirror is refused, on either node.
    for (const node of [nodes.get('node-x')!, nodes.get('node-y')!]) {
      const r = await post(node, { ...body, localRepository: 'other/app' });
      expect([r.status, r.body.code]).toEqual([409, 'MIRROR_EXISTS']);
    }

    await tagsBecome(nodes.get('node-x')!, { '1': one });
    const first = await settledOn(['node-x', 'node-y'], id);
    const other = first === 'node-x' ? 'node-y' : 'node-x';
    // Exactly one runner, and it stays that way (sampled over a few lease renewals).
    for (let i = 0; i < 10; i++) {
      const [r, o] = await Promise.all([view(first, id), view(other, id)]);
      expect([r.runner, r.state === 'standby', o.runner, o.state, o.pulled, o.lastSyncAt]).toEqual([first, false, first, 'standby', 0, null]);
      await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS));
    }
    const two = await importImage(source.url, ADMIN_TOKEN, 'lease-two', 'team/app:2');
    await tagsBecome(nodes.get(other)!, { '1': one, '2': two });

    // The runner dies without a word: its lease lapses after the TTL and the other node takes the mirror over.
    const killedAt = Date.now();
    await nodes.get(first)!.crash();
    nodes.delete(first);
    const taken = await until(`${other} to take the mirror over`, async () => {
      const v = await view(other, id);
      return v.runner === other && v.state === 'following' ? v : undefined;
    });
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(TTL_MS + 20 * HEARTBEAT_MS);
    // It started with a full sync (its stored position is not trusted), which found every tag in place.
    expect(taken).toMatchObject({ hasCredentials: true, pulled: 0, untagged: 0, lastError: null });
    expect(taken.lastSyncAt).not.toBeNull();

    // A tag pushed to the source afterwards appears here.
    const three = await importImage(source.url, ADMIN_TOKEN, 'lease-three', 'team/app:3');
    await tagsBecome(nodes.get(other)!, { '1': one, '2': two, '3': three });
    expect((await view(other, id)).pulled).toBe(1);

    // The killed node comes back on its data: it stands by. The runner stops cleanly: its lease is
    // deleted, so the returning node takes over at once (well before the TTL a lapse would take).
    await start(first);
    await settledOn([first, other], id).then((runner) => expect(runner).toBe(other));
    await nodes.get(other)!.stop();
    nodes.delete(other);
    const stoppedAt = Date.now();
    await until(`${first} to take the mirror over`, async () => ((await view(first, id)).runner === first ? true : undefined), 10_000);
    expect(Date.now() - stoppedAt).toBeLessThan(TTL_MS / 2);
    const back = await until(`${first} to follow`, async () => {
      const v = await view(first, id);
      return v.state === 'following' ? v : undefined;
    });
    // Its position from before the crash is not resumed from (others followed since): a full sync again, nothing pulled.
    expect(back.lastSyncAt).not.toBeNull();
    expect(back.pulled).toBe(0);
    expect((await source.json('PUT', `/repositories/${enc('team/app')}/tags/1`, { digest: three })).status).toBe(200);
    const four = await importImage(source.url, ADMIN_TOKEN, 'lease-four', 'team/app:4');
    const survivor = nodes.get(first)!;
    await tagsBecome(survivor, { '1': three, '2': two, '3': three, '4': four });

    // The shared log: each tag→digest once (no step repeated by a second runner or by a takeover's sync).
    const events = (await survivor.json<EventsReply>('GET', `/events?stream=${enc('repository-copy/app')}&limit=100`)).body.items;
    const steps = events.map((e) => [e.type, (e.data as { tag?: string }).tag ?? null, (e.data as { digest?: string }).digest ?? null]);
    expect(steps).toEqual([
      ['RepositoryCreated', null, null],
      ['ImageTagged', '1', one],
      ['ImageTagged', '2', two],
      ['ImageTagged', '3', three],
      ['ImageTagged', '1', three],
      ['ImageTagged', '4', four],
    ]);
    expect(new Set(events.map((e) => e.actor))).toEqual(new Set([`mirror-${id}`]));
    // Each step recorded by the node that held the lease then.
    expect(events.map((e) => e.nodeId)).toEqual([first, first, first, other, first, first]);
    const images = (await survivor.json<EventsReply>('GET', '/events?category=image&limit=100')).body.items.filter((e) => e.type === 'ImageCreated');
    expect(images.map((e) => (e.data as { manifestDigest: string }).manifestDigest).sort()).toEqual([one, two, three, four].sort());
    const mirrorEvents = (await survivor.json<EventsReply>('GET', '/events?category=mirror')).body.items;
    expect(mirrorEvents.map((e) => e.type)).toEqual(['MirrorAdded']);
  }, 180_000);
});
