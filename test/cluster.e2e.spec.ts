import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerView, ListReply, NodeView } from '@strata/api';
import { startNatsCluster, type NatsClusterHandle } from '../libs/eventstore/src/testing/nats-cluster.js';
import { cleanUpAfterCrash, startChildNode, type ChildNode } from './support/child-node.js';
import { startTestNode, type TestNode } from './support/test-node.js';
import { importBusybox } from './support/busybox.js';
import { until } from './support/until.js';

type Json = <T = any>(method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>;
interface Member {
  id: string;
  url: string;
  json: Json;
}

const CLUSTER_ENV = (url: string) => ({ STRATA_NATS_URL: url, STRATA_NATS_REPLICAS: '3', STRATA_HEARTBEAT_MS: '200', STRATA_NODE_TTL_MS: '1500', STRATA_CAPACITY: '1000' });

/**
 * Three Strata nodes on one JetStream log (three nats-servers clustered with routes, the log with
 * replicas 3; two nodes in this process and one as its own process, so it can be killed): membership, placement by the scheduler and by --node, routing
 * of container commands to their owner, drain, and the loss of a node (declared once, its containers
 * exited with node-lost, the restartable one running again elsewhere), then its return.
 */
describe('a cluster of three nodes on one JetStream log', () => {
  let nats: NatsClusterHandle;
  let a: TestNode;
  let b: TestNode;
  let c: ChildNode;
  let work: string;
  let cDir: string;
  let members: Member[];

  const nodes = async (m: Member) => (await m.json<ListReply<NodeView>>('GET', '/nodes')).body.items;
  const head = async (m: Member) => (await m.json('GET', '/healthz')).body.head as number;
  /** Every node's read models at the same position with the same checksum (bounded wait: nodes keep beating, not appending). */
  const converged = () =>
    until('every node at one position with one checksum', async () => {
      const h = Math.max(...(await Promise.all(members.map(head))));
      const sums = await Promise.all(members.map(async (m) => (await m.json('GET', `/admin/checksum?minPosition=${h}`)).body));
      return sums.every((x) => x.position === h) && new Set(sums.map((x) => x.checksum)).size === 1 ? sums : undefined;
    });

  beforeAll(async () => {
    nats = await startNatsCluster({ size: 3 });
    work = mkdtempSync(join(tmpdir(), 'strata-cluster-'));
    a = await startTestNode({ nodeId: 'node-a', env: CLUSTER_ENV(nats.urls) });
    b = await startTestNode({ nodeId: 'node-b', env: CLUSTER_ENV(nats.urls) });
    cDir = join(work, 'node-c');
    c = await startChildNode(cDir, { ...CLUSTER_ENV(nats.urls), STRATA_NODE_ID: 'node-c' });
    members = [
      { id: 'node-a', url: a.url, json: a.json },
      { id: 'node-b', url: b.url, json: b.json },
      { id: 'node-c', url: c.url, json: c.json },
    ];
    // Only node-a has the image's blobs: the others fetch them through the cluster's object store.
    await importBusybox(a.url);
  }, 120_000);

  afterAll(async () => {
    await c?.stop().catch(() => undefined);
    if (cDir) cleanUpAfterCrash(cDir);
    await Promise.all([a?.stop(), b?.stop()].map((p) => p?.catch(() => undefined)));
    await nats?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('has three ready nodes that every node lists the same way', async () => {
    for (const m of members) {
      const listed = await until(`three alive nodes seen by ${m.id}`, async () => {
        const items = await nodes(m);
        return items.filter((n) => n.status === 'ready' && n.alive).length === 3 ? items : undefined;
      });
      expect(listed.map((n) => n.nodeId)).toEqual(['node-a', 'node-b', 'node-c']);
    }
  });

  it('places 300 containers created through random nodes on all three, and every node converges on one checksum', async () => {
    let next = 0;
    const placed: Record<string, number> = {};
    const worker = async () => {
      for (let i = next++; i < 300; i = next++) {
        const via = members[i % 3]!;
        const r = await via.json<{ container: ContainerView }>('POST', '/containers', { image: 'busybox', name: `many-${i}`, cmd: ['true'] });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        placed[r.body.container.nodeId] = (placed[r.body.container.nodeId] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    expect(Object.keys(placed).sort()).toEqual(['node-a', 'node-b', 'node-c']);
    // node-b and node-c fetched the layers from node-a (through the object store) to create theirs.
    expect((await b.call('GET', '/images/busybox/content?path=/bin/busybox')).status).toBe(200);
    for (const count of Object.values(placed)) expect(count).toBeGreaterThan(50);

    await converged();
  }, 240_000);

  it('routes a container command from any node to the owner; conflicting commands from three nodes yield only valid transitions', async () => {
    const created = await a.json<{ container: ContainerView }>('POST', '/containers', { image: 'busybox', name: 'contested', cmd: ['sleep', '1000'], node: 'node-c' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.container.nodeId).toBe('node-c');
    // Started through node-b: routed to node-c, which runs it.
    const started = await b.json<{ container: ContainerView }>('POST', '/containers/contested/start');
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body.container.status).toBe('running');

    const verbs = ['pause', 'unpause', 'kill?signal=SIGKILL', 'stop?t=1', 'start', 'pause'];
    const answers = await Promise.all(
      verbs.flatMap((verb) => members.map(async (m) => (await m.json('POST', `/containers/contested/${verb}`)).status)),
    );
    for (const status of answers) expect([200, 409]).toContain(status);
    expect(answers.filter((s) => s === 200).length).toBeGreaterThan(0);

    // The log holds only transitions the container's state machine allows (every node folds it the same).
    const h = Math.max(...(await Promise.all(members.map(head))));
    const views = await Promise.all(members.map(async (m) => (await m.json<ContainerView>('GET', `/containers/contested?minPosition=${h}`)).body));
    expect(new Set(views.map((v) => `${v.status}/${v.restartCount}`)).size).toBe(1);
    const events = (await a.json(`GET`, `/events?stream=container-${created.body.container.id}&limit=1000`)).body.items as Array<{ type: string; nodeId: string }>;
    expect(events[0]!.type).toBe('ContainerCreated');
    expect(new Set(events.map((e) => e.nodeId))).toEqual(new Set(['node-c'])); // only the owner records it
    await b.json('DELETE', '/containers/contested?force=true');
  }, 120_000);

  it('drains a node: nothing new is placed there, and asking for it by name is refused', async () => {
    expect((await a.json('POST', '/nodes/node-b/drain')).status).toBe(200);
    const listed = await until('node-b draining everywhere', async () => ((await nodes(members[2]!)).find((n) => n.nodeId === 'node-b')?.status === 'draining' ? true : undefined));
    expect(listed).toBe(true);
    for (let i = 0; i < 12; i++) {
      const r = await members[i % 3]!.json<{ container: ContainerView }>('POST', '/containers', { image: 'busybox', name: `after-drain-${i}`, cmd: ['true'] });
      expect(r.status).toBe(201);
      expect(r.body.container.nodeId).not.toBe('node-b');
    }
    const refused = await a.json('POST', '/containers', { image: 'busybox', cmd: ['true'], node: 'node-b' });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('NODE_DRAINING');
    expect((await a.json('POST', '/containers', { image: 'busybox', cmd: ['true'], node: 'node-x' })).body.code).toBe('NODE_NOT_FOUND');
  }, 60_000);

  it('declares a killed node lost once, exits its containers with node-lost, runs the restartable one elsewhere, and takes it back', async () => {
    const keep = await a.json<{ container: ContainerView }>('POST', '/containers', { image: 'busybox', name: 'survivor', cmd: ['sleep', '1000'], restart: 'always', node: 'node-c' });
    const lose = await a.json<{ container: ContainerView }>('POST', '/containers', { image: 'busybox', name: 'casualty', cmd: ['sleep', '1000'], node: 'node-c' });
    expect([keep.status, lose.status]).toEqual([201, 201]);
    expect((await a.json('POST', '/containers/survivor/start')).status).toBe(200);
    expect((await a.json('POST', '/containers/casualty/start')).status).toBe(200);

    await c.crash();
    cleanUpAfterCrash(cDir);
    const lost = await until('node-c declared lost', async () => {
      const n = (await nodes(members[0]!)).find((x) => x.nodeId === 'node-c');
      return n?.status === 'lost' ? n : undefined;
    });
    expect(lost.alive).toBe(false);
    const declared = (await a.json('GET', '/events?stream=node-node-c&type=NodeLost')).body.items as Array<{ data: { declaredBy: string } }>;
    expect(declared).toHaveLength(1);
    expect(['node-a', 'node-b']).toContain(declared[0]!.data.declaredBy);

    const casualty = await until('casualty exited with node-lost', async () => {
      const v = (await a.json<ContainerView>('GET', `/containers/${lose.body.container.id}`)).body;
      return v.status === 'exited' ? v : undefined;
    });
    expect(casualty.exitReason).toBe('node-lost');
    const replacement = await until('the restartable container running elsewhere', async () => {
      const all = (await a.json<ListReply<ContainerView>>('GET', '/containers')).body.items;
      return all.find((x) => x.name === 'survivor' && x.status === 'running' && x.id !== keep.body.container.id);
    });
    expect(replacement.nodeId).toBe('node-a'); // node-b is draining, node-c is lost
    expect(replacement.config.labels['strata.rescheduled-from']).toBe(keep.body.container.id);
    await a.json('DELETE', '/containers/survivor?force=true');

    // Back again: it rejoins, catches up, and reaches the others' checksum.
    c = await startChildNode(cDir, { ...CLUSTER_ENV(nats.urls), STRATA_NODE_ID: 'node-c' });
    members[2] = { id: 'node-c', url: c.url, json: c.json };
    await until('node-c ready again', async () => ((await nodes(members[0]!)).find((n) => n.nodeId === 'node-c')?.status === 'ready' ? true : undefined));
    await converged();
  }, 120_000);

  it('takes a node added later with an empty data directory: it replays the log and reaches the same checksum', async () => {
    const d = await startTestNode({ nodeId: 'node-d', env: CLUSTER_ENV(nats.urls) });
    try {
      members.push({ id: 'node-d', url: d.url, json: d.json });
      await converged();
      expect((await nodes(members[3]!)).map((n) => n.nodeId)).toEqual(['node-a', 'node-b', 'node-c', 'node-d']);
    } finally {
      members.pop();
      await d.stop();
    }
  }, 120_000);
});
