import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerView, ListReply, NodeView } from '@strata/api';
import type { OpenedSnapshotter } from '@strata/layers';
import type { Runtime } from '@strata/runtime';
import { RUNTIME } from '../apps/strata/src/containers/runtime-token.js';
import { SNAPSHOTTER } from '../apps/strata/src/images/layer-tokens.js';
import { startNatsCluster, type NatsClusterHandle } from '../libs/eventstore/src/testing/nats-cluster.js';
import { importBusybox } from './support/busybox.js';
import { cleanUpAfterCrash } from './support/child-node.js';
import { startTestNode, type TestNode } from './support/test-node.js';
import { until } from './support/until.js';

const env = (url: string) => ({ STRATA_NATS_URL: url, STRATA_NATS_REPLICAS: '3', STRATA_HEARTBEAT_MS: '200', STRATA_NODE_TTL_MS: '1500', STRATA_CAPACITY: '100' });

/**
 * A node cut off from NATS (the one server it talks to dies) but not stopped: the others declare it
 * lost and run its restartable container elsewhere, while its own copy keeps running. When NATS is back
 * it does not carry on as if nothing happened: it waits for that failover to complete, stops and deletes
 * the container the failover removed, and joins again. Three clustered nats-servers (R3), real runc.
 */
describe('a node declared lost while only cut off', () => {
  let cluster: NatsClusterHandle;
  let a: TestNode;
  let x: TestNode;

  const nodeX = async () => (await a.json<ListReply<NodeView>>('GET', '/nodes')).body.items.find((n) => n.nodeId === 'node-x');

  beforeAll(async () => {
    cluster = await startNatsCluster({ size: 3, noAdvertise: true });
    a = await startTestNode({ nodeId: 'node-a', env: env(cluster.urls) });
    // node-x speaks to one server only (not told of the others): killing it cuts node-x off, and leaves
    // the others a quorum.
    x = await startTestNode({ nodeId: 'node-x', env: env(cluster.servers[0]!.url) });
    await importBusybox(a.url); // node-a has the blobs: the replacement needs nothing from node-x
  }, 120_000);
  afterAll(async () => {
    await a?.json('DELETE', '/containers/keeper?force=true').catch(() => undefined);
    await Promise.all([a?.stop().catch(() => undefined), x?.stop().catch(() => undefined)]);
    for (const n of [a, x]) if (n) cleanUpAfterCrash(n.dataDir);
    await cluster?.stop();
  }, 60_000);

  it('waits for its failover, stops and deletes what the failover removed, and joins again', async () => {
    const created = await a.json<{ container: ContainerView }>('POST', '/containers', { image: 'busybox', name: 'keeper', cmd: ['sleep', '1000'], restart: 'always', node: 'node-x' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.container.id;
    expect((await a.json('POST', '/containers/keeper/start')).status).toBe(200);
    const runtimeOfX = x.node.app.get<Runtime>(RUNTIME);
    expect(await runtimeOfX.state(id)).toBe('running');

    await cluster.servers[0]!.crash();
    await until('node-x declared lost', async () => ((await nodeX())?.status === 'lost' ? true : undefined));
    const replacement = await until('the restartable container running on node-a', async () => {
      const all = (await a.json<ListReply<ContainerView>>('GET', '/containers')).body.items;
      return all.find((c) => c.name === 'keeper' && c.status === 'running' && c.id !== id);
    });
    expect(replacement.nodeId).toBe('node-a');
    expect(await runtimeOfX.state(id)).toBe('running'); // cut off, node-x knows nothing of it yet

    await cluster.servers[0]!.restart();
    await cluster.waitReady();
    await until('node-x ready again', async () => ((await nodeX())?.status === 'ready' ? true : undefined));
    expect(['stopped', 'unknown']).toContain(await runtimeOfX.state(id));
    const layers = (await x.node.app.get<OpenedSnapshotter>(SNAPSHOTTER).snapshotter.list()).map((s) => s.key);
    expect(layers).not.toContain(`container-${id}`);
    const joins = (await a.json('GET', '/events?stream=node-node-x&type=NodeJoined')).body.items as unknown[];
    expect(joins).toHaveLength(2); // the first join, and the one after the loss
    // The old container is removed in the log (by the failover, once); node-x appended nothing about it.
    const removed = (await a.json('GET', `/events?stream=container-${id}&type=ContainerRemoved`)).body.items as Array<{ nodeId: string }>;
    expect(removed.map((e) => e.nodeId)).toEqual(['node-a']);
  }, 180_000);
});
