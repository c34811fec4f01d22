import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteEventStore } from '@strata/eventstore';
import { ProjectionEngine, type ReadModel } from '@strata/projections';
import { copyLog, digest, openStore, randomHistory, RepositoryDriver, tempDir } from './helpers.js';

const silent = { log: () => {}, warn: () => {}, error: () => {} };

/** Everything a ReadModel can be asked about a set of repositories, as one comparable value. */
async function answers(model: ReadModel, position: number, names: string[]) {
  const perRepository = [];
  for (const name of names) {
    perRepository.push({
      repository: await model.getRepository(name),
      tags: await model.listTags(name),
      history: await model.tagHistory(name),
      latest: await model.tagHistory(name, 'latest'),
    });
  }
  return {
    position,
    repositories: await model.listRepositories(),
    perRepository,
    events: await model.queryEvents({ limit: 10_000 }),
    checksum: await model.checksum(),
  };
}

describe('time travel', () => {
  let dir: { dir: string; cleanup(): Promise<void> };
  let store: SqliteEventStore;
  let engine: ProjectionEngine;

  beforeEach(async () => {
    dir = await tempDir();
    store = openStore(join(dir.dir, 'strata.db'));
    engine = await ProjectionEngine.open({ path: join(dir.dir, 'read.db'), store, logger: silent, batchSize: 300 });
  });
  afterEach(async () => {
    await engine.close();
    await store.close();
    await dir.cleanup();
  });

  it('answers at a middle position exactly like a node that only ever saw the log up to there', async () => {
    await randomHistory(store, 2500, 1234);
    await engine.catchUp();
    const head = await store.head();
    const middle = Math.floor(head / 2) + 1;
    const names = Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? `team${i}/app` : `app-${i}`));

    // The other node: its own log holding only events 1..middle, its own read.db.
    const otherStore = openStore(join(dir.dir, 'other-strata.db'));
    await copyLog(store, otherStore, middle);
    expect(await otherStore.head()).toBe(middle);
    const other = await ProjectionEngine.open({ path: join(dir.dir, 'other-read.db'), store: otherStore, logger: silent });
    await other.catchUp();

    const past = await engine.at({ position: middle });
    try {
      const expected = await answers(other, other.position(), names);
      expect(expected.repositories.length).toBeGreaterThan(0);
      expect(await answers(past, past.position, names)).toEqual(expected);
      // …and the past is not the present.
      expect(await past.checksum()).not.toBe(await engine.checksum());
    } finally {
      await past.close();
      await other.close();
      await otherStore.close();
    }
  });

  it('resolves a time to the last position at or before it', async () => {
    const driver = new RepositoryDriver(store);
    await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(1) }, { occurredAt: '2025-03-01T10:00:00.000Z' });
    await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(2) }, { occurredAt: '2025-03-01T10:30:00.000Z' });
    await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(3) }, { occurredAt: '2025-03-01T11:00:00.000Z' });

    const at1032 = await engine.at({ time: '2025-03-01T10:32:00Z' });
    expect(at1032.position).toBe(3);
    expect((await at1032.listTags('app')).map((t) => t.digest)).toEqual([digest(2)]);
    await at1032.close();

    const before = await engine.at({ time: '2025-03-01T09:00:00Z' });
    expect(before.position).toBe(0);
    expect(await before.listRepositories()).toEqual([]);
    await before.close();
  });

  it('a position beyond the head means the head; bad points are refused', async () => {
    await randomHistory(store, 50, 2);
    await engine.catchUp();
    const head = await store.head();
    const future = await engine.at({ position: head + 1000 });
    expect(future.position).toBe(head);
    expect(await future.checksum()).toBe(await engine.checksum());
    await future.close();
    await expect(engine.at({ position: -1 })).rejects.toMatchObject({ code: 'INVALID_POSITION' });
    await expect(engine.at({ time: 'yesterday-ish' })).rejects.toMatchObject({ code: 'INVALID_TIME' });
  });
});
