import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@strata/domain';
import { PROJECTORS, ReadDatabase, SqliteReadModel } from '@strata/projections';
import { digest, prng, tempDir, timeOf } from './helpers.js';

/**
 * Placement asks, on every create, how many containers each node holds: containerCountsByNode counts
 * them in SQL from the containers_node index instead of listing every container.
 */

const NODES = ['n1', 'n2', 'n3'];

function containerEvents(count: number, seed: number): EventEnvelope[] {
  const random = prng(seed);
  const live: string[] = [];
  const events: EventEnvelope[] = [];
  for (let i = 1; i <= count; i++) {
    const r = random();
    let type: string;
    let data: unknown;
    let id: string;
    if (live.length === 0 || r < 0.45) {
      id = `c${i.toString(16).padStart(63, '0')}`;
      live.push(id);
      type = 'ContainerCreated';
      data = {
        id,
        name: `box-${i}`,
        image: { manifestDigest: digest(5), imageId: digest(6), reference: 'app:latest', topChainId: null },
        config: { entrypoint: null, cmd: ['sh'], env: [], workingDir: '/', user: '', labels: {}, hostname: 'h', stopSignal: 'SIGTERM', stopTimeoutSeconds: 10 },
        restartPolicy: { name: 'no', maximumRetryCount: 0 },
        nodeId: NODES[Math.floor(random() * NODES.length)],
        snapshotter: 'native',
      };
    } else {
      const at = Math.floor(random() * live.length);
      id = live[at];
      if (r < 0.75) [type, data] = ['ContainerStarted', { id, pid: i, restartCount: 0 }];
      else if (r < 0.9) [type, data] = ['ContainerExited', { id, exitCode: 0, reason: 'completed', signal: null, oomKilled: false, error: null }];
      else {
        live.splice(at, 1);
        [type, data] = ['ContainerRemoved', { id, name: 'x' }];
      }
    }
    events.push({
      position: i,
      eventId: `evt-${seed}-${i}`,
      streamId: `container-${id}`,
      version: i,
      type,
      schemaVersion: 1,
      data,
      occurredAt: timeOf(i),
      actor: 'alice',
      commandId: `cmd-${seed}-${i}`,
      correlationId: `corr-${i}`,
      causationId: null,
      nodeId: 'n1',
    } as EventEnvelope);
  }
  return events;
}

describe('containers per node', () => {
  let dir: { dir: string; cleanup(): Promise<void> };
  const opened: ReadDatabase[] = [];
  const open = async (file = 'read.db') => {
    const db = await ReadDatabase.open({ path: join(dir.dir, file), projectors: PROJECTORS, mode: 'live' });
    opened.push(db);
    return db;
  };

  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
    await dir.cleanup();
  });

  it('counts what listing them would count, per node (live ones, and running or paused ones)', async () => {
    const db = await open();
    const model = new SqliteReadModel(db);
    expect(await model.containerCountsByNode()).toEqual(new Map());
    const events = containerEvents(600, 7);
    for (let from = 0; from < events.length; from += 100) {
      db.applyBatch(events.slice(from, from + 100));
      const expected = new Map<string, { containers: number; running: number }>();
      for (const c of await model.listContainers(true)) {
        const n = expected.get(c.nodeId) ?? { containers: 0, running: 0 };
        n.containers++;
        if (c.status === 'running' || c.status === 'paused') n.running++;
        expected.set(c.nodeId, n);
      }
      expect(await model.containerCountsByNode()).toEqual(expected);
    }
    expect([...(await model.containerCountsByNode()).keys()].sort()).toEqual(NODES);
  });

  it('is answered from the containers_node index, without reading the rows', async () => {
    const db = await open();
    const plan = db.raw
      .prepare("EXPLAIN QUERY PLAN SELECT node_id, count(*) AS containers, sum(status IN ('running', 'paused')) AS running FROM containers WHERE status != 'removed' GROUP BY node_id")
      .all() as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail).join('; ')).toMatch(/USING COVERING INDEX containers_node/);
  });

  it('a read.db made before the index gets it when opened, rows and checkpoints kept (no rebuild)', async () => {
    const db = await open();
    db.applyBatch(containerEvents(200, 3));
    const before = { checksum: db.checksum(), position: db.position(), counts: await new SqliteReadModel(db).containerCountsByNode() };
    db.raw.prepare('DROP INDEX containers_node').run();
    await db.close();
    const again = await open();
    const indexes = again.raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'containers' AND sql IS NOT NULL ORDER BY name").all();
    expect(indexes).toEqual([{ name: 'containers_image' }, { name: 'containers_name' }, { name: 'containers_node' }]);
    expect(again.position()).toBe(before.position);
    expect(again.checksum()).toBe(before.checksum);
    expect(await new SqliteReadModel(again).containerCountsByNode()).toEqual(before.counts);
  });
});
