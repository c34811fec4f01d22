/** `strata node ls|drain` and `create --node`, in-process against the fake node, human and --json. */
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandReply, ListReply, NodeView } from '@strata/api';
import { cliHarness, containerReply, containerView } from './testing/cli-harness.js';
import { routes, sendJson, sendProblem } from './testing/fake-node.js';

const cli = cliHarness();
afterEach(() => cli.close());
const { strata } = cli;

// captureIo's clock is 2024-05-01T12:00:00Z.
const node = (id: string, overrides: Partial<NodeView> = {}): NodeView => ({
  nodeId: id,
  address: `http://10.0.0.${id.length}:7070`,
  status: 'ready',
  runtime: 'runc',
  snapshotter: 'overlay',
  capacity: 100,
  version: '0.1.0',
  joinedAt: '2024-05-01T10:00:00.000Z',
  lastHeartbeat: '2024-05-01T11:59:58.000Z',
  alive: true,
  containers: 3,
  running: 1,
  ...overrides,
});
const listed: ListReply<NodeView> = {
  items: [node('node-a'), node('node-b', { status: 'draining' }), node('node-c', { status: 'lost', alive: false, lastHeartbeat: null })],
  position: 42,
};
const drained: CommandReply = { commandId: 'c1', streamId: 'node-node-b', version: 2, position: 43, events: ['NodeDraining'], duplicate: false };

describe('strata node', () => {
  it('ls: one row per node, state, load and last heartbeat; --json as sent', async () => {
    const handler = routes({ 'GET /nodes': (_q, res) => sendJson(res, 200, listed) });
    const r = await strata(['node', 'ls'], handler);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toMatch(/^NODE\s+STATUS\s+ADDRESS\s+CONTAINERS\s+RUNNING\s+CAPACITY\s+HEARTBEAT\s+SNAPSHOTTER$/);
    expect(lines[1]).toMatch(/^node-a\s+ready\s+http:\/\/10\.0\.0\.6:7070\s+3\s+1\s+100\s+\S.*overlay$/);
    expect(lines[2]).toMatch(/^node-b\s+draining\s/);
    expect(lines[3]).toMatch(/^node-c\s+lost\s.*\s-\s+overlay$/);
    expect(lines[1]).toMatch(/\s2 seconds ago\s/);
    const json = await strata(['node', 'ls', '--json'], handler);
    expect(JSON.parse(json.out)).toEqual(listed);
  });

  it('ls on a node without NATS says there is no cluster', async () => {
    const alone = await strata(['node', 'ls'], routes({ 'GET /nodes': (_q, res) => sendJson(res, 200, { items: [], position: 3 }) }));
    expect(alone.out).toMatch(/^no nodes: this node runs alone, without NATS/);
  });

  it('drain: POSTs to the node and says what changed; a refusal is a message and exit code 1', async () => {
    const handler = routes({
      'POST /nodes/node-b/drain': (_q, res) => sendJson(res, 200, drained),
      'POST /nodes/node-x/drain': (_q, res) => sendProblem(res, 404, 'NODE_NOT_FOUND', 'no node node-x has joined this cluster'),
    });
    const ok = await strata(['node', 'drain', 'node-b'], handler);
    expect([ok.code, ok.out.trim()]).toEqual([0, 'node-b is draining']);
    const refused = await strata(['node', 'drain', 'node-x'], handler);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/no node node-x has joined this cluster/);
  });

  it('create --node sends the placement with the request', async () => {
    let body: Record<string, unknown> = {};
    const handler = routes({
      'POST /containers': (q, res) => {
        body = JSON.parse(q.body);
        sendJson(res, 201, containerReply(containerView('a', { nodeId: 'node-c' })));
      },
    });
    const r = await strata(['create', '--node', 'node-c', 'busybox', 'true'], handler);
    expect(r.code, r.err).toBe(0);
    expect(body).toMatchObject({ image: 'busybox', cmd: ['true'], node: 'node-c' });
  });
});
