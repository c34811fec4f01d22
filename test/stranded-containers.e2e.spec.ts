import { CommandBus } from '@nestjs/cqrs';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerReply } from '@strata/api';
import type { OpenedSnapshotter } from '@strata/layers';
import type { Runtime } from '@strata/runtime';
import { ExecuteCommand } from '../apps/strata/src/commands/execute-command.js';
import { RUNTIME } from '../apps/strata/src/containers/runtime-token.js';
import { SNAPSHOTTER } from '../apps/strata/src/images/layer-tokens.js';
import { makeBusyboxRootfs } from '../libs/layers/src/testing/busybox-rootfs.js';
import { unmountUnder } from './support/child-node.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';
import { tarOf } from './support/trees.js';

/**
 * What a failover (or a crash) decides while a node is away, the node's disk and processes follow when
 * it starts again: a container the log says was removed is stopped and its writable layer deleted, one
 * the log says exited is stopped and kept, a layer the log never recorded is deleted, and a consistent
 * container is left alone. The failover's commands are sent here the way another node's failover sends
 * them (the command bus, not the containers service, which would refuse to touch a running container).
 * Real runc and busybox-static; one node, SQLite.
 */
describe('a node starting again follows what the log decided while it was away', () => {
  let dataDir: string;
  let t: TestNode;
  const started: string[] = [];
  const post = <T = any>(path: string, body?: unknown) => t.json<T>('POST', path, body);
  const snapshots = async () => (await t.node.app.get<OpenedSnapshotter>(SNAPSHOTTER).snapshotter.list()).map((s) => s.key);
  const runtimeState = (id: string) => t.node.app.get<Runtime>(RUNTIME).state(id);
  const failoverSends = (name: string, input: object, id: string) =>
    t.node.app.get(CommandBus).execute(new ExecuteCommand(name, input, { commandId: id, actor: 'node:other', correlationId: id, causationId: null, occurredAt: new Date().toISOString(), nodeId: 'other' }));
  const restart = async () => {
    await t.stop(); // the containers run on
    t = await startTestNode({ dataDir, nodeId: 'node-stranded' });
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'strata-stranded-'));
    t = await startTestNode({ dataDir, nodeId: 'node-stranded' });
    const rootfs = join(dataDir, 'busybox-rootfs');
    mkdirSync(rootfs);
    await makeBusyboxRootfs(rootfs);
    const r = await fetch(`${t.url}/images/import?tag=busybox:latest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-tar' },
      body: tarOf(rootfs),
    });
    expect(r.status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    // Whatever the test left running (it failed half-way) does not outlive it.
    for (const id of started) await t?.node.app.get<Runtime>(RUNTIME).stop(id, 0, 'SIGKILL').catch(() => undefined);
    await t?.stop();
    if (dataDir) {
      unmountUnder(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('stops what was removed or exited in the log, deletes layers nobody recorded, keeps the rest', async () => {
    const run = async (name: string) => {
      const c = (await post<ContainerReply>('/containers', { image: 'busybox', name, cmd: ['sleep', '300'] })).body.container;
      started.push(c.id);
      expect((await post(`/containers/${c.id}/start`)).status).toBe(200);
      return c.id;
    };
    const removed = await run('removed-away');
    const exited = await run('exited-away');
    const kept = await run('kept');
    // A create that died between preparing its layer and recording it.
    const unrecorded = 'f'.repeat(64);
    await t.node.app.get<OpenedSnapshotter>(SNAPSHOTTER).snapshotter.prepare(`container-${unrecorded}`);

    // Another node's failover, while this one was (thought) lost: both exits recorded, one container removed.
    const exit = (id: string) => ({ id, exitCode: 137, reason: 'node-lost', signal: null, oomKilled: false, error: 'node node-stranded was lost' });
    await failoverSends('RecordContainerExit', exit(removed), 'failover/exit-1');
    await failoverSends('RecordContainerExit', exit(exited), 'failover/exit-2');
    await failoverSends('RemoveContainer', { id: removed }, 'failover/remove-1');
    expect(await runtimeState(removed)).toBe('running'); // the log decided; this node has not acted yet

    await restart();
    const keys = await snapshots();
    expect(keys).not.toContain(`container-${removed}`);
    expect(keys).not.toContain(`container-${unrecorded}`);
    expect(keys).toContain(`container-${exited}`);
    expect(keys).toContain(`container-${kept}`);
    expect(['stopped', 'unknown']).toContain(await runtimeState(removed));
    expect(['stopped', 'unknown']).toContain(await runtimeState(exited));
    expect(await runtimeState(kept)).toBe('running');
    // The log is unchanged by the sweep: it only follows it.
    expect((await t.json('GET', `/containers/${exited}`)).body).toMatchObject({ status: 'exited' });
    expect((await t.json('GET', `/containers/${kept}`)).body).toMatchObject({ status: 'running' });
    expect((await post(`/containers/${kept}/kill`, { signal: 'SIGKILL' })).status).toBe(200);
    expect((await t.json('DELETE', `/containers/${exited}`)).status).toBe(200);
  }, 120_000);
});
