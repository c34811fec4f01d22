import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReplayProgress } from '@strata/api';
import type { SqliteEventStore } from '@strata/eventstore';
import { ProjectionEngine, ReplayInProgressError } from '@strata/projections';
import { startFlush } from '../src/database-files.js';
import { digest, openStore, randomHistory, RepositoryDriver, tempDir } from './helpers.js';

const silent = { log: () => {}, warn: () => {}, error: () => {} };

describe('replay', () => {
  let dir: { dir: string; cleanup(): Promise<void> };
  let store: SqliteEventStore;
  let engine: ProjectionEngine;
  let readDb: string;

  beforeEach(async () => {
    dir = await tempDir();
    store = openStore(join(dir.dir, 'strata.db'));
    readDb = join(dir.dir, 'read.db');
    // Rebuild batches as small as the live ones: the tests below see progress (and append) batch by batch.
    engine = await ProjectionEngine.open({ path: readDb, store, logger: silent, batchSize: 500, rebuildBatchSize: 500 });
  });
  afterEach(async () => {
    await engine.close();
    await store.close();
    await dir.cleanup();
  });

  it('rebuilds thousands of random events into identical read models', async () => {
    const events = await randomHistory(store, 4000, 42);
    expect(events).toBeGreaterThan(2500);
    engine.start();
    const head = await store.head();
    expect(await engine.waitFor(head, 30_000)).toBe(true);
    const snapshot = await engine.checksum();
    const repositories = await engine.listRepositories();
    expect(repositories.length).toBeGreaterThan(5);

    const progress: ReplayProgress[] = [];
    const result = await engine.replay((p) => progress.push(p));

    expect(result).toEqual({ checksumBefore: snapshot, checksumAfter: snapshot, events: head, seconds: expect.any(Number) });
    expect(result.seconds).toBeGreaterThan(0);
    expect(await engine.checksum()).toBe(snapshot);
    expect(await engine.listRepositories()).toEqual(repositories);
    // Progress: batch by batch, ascending, up to the head.
    expect(progress.length).toBeGreaterThanOrEqual(Math.ceil(head / 500));
    expect(progress.map((p) => p.position)).toEqual([...progress.map((p) => p.position)].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual({ kind: 'progress', position: head, head, events: head });
    expect(existsSync(`${readDb}.replay`)).toBe(false);

    // The swapped-in file is read.db for good: a restart finds it, at the same position.
    await engine.close();
    engine = await ProjectionEngine.open({ path: readDb, store, logger: silent });
    expect(engine.position()).toBe(head);
    expect(await engine.checksum()).toBe(snapshot);
  });

  it('a checksum differs when a row differs (it can fail)', async () => {
    await randomHistory(store, 200, 1);
    await engine.catchUp();
    const before = await engine.checksum();
    const other = await ProjectionEngine.open({ path: join(dir.dir, 'other.db'), store, logger: silent });
    await other.catchUp();
    expect(await other.checksum()).toBe(before);
    // Tamper with one cell of the other database through a time-travel-free path: its raw file.
    await other.close();
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(join(dir.dir, 'other.db'));
    raw.prepare("UPDATE tags SET updated_by = 'mallory' WHERE rowid = (SELECT MIN(rowid) FROM tags)").run();
    raw.close();
    const tampered = await ProjectionEngine.open({ path: join(dir.dir, 'other.db'), store, logger: silent });
    expect(await tampered.checksum()).not.toBe(before);
    // And replay repairs it.
    const result = await tampered.replay();
    expect(result.checksumBefore).not.toBe(result.checksumAfter);
    expect(result.checksumAfter).toBe(before);
    await tampered.close();
  });

  it('keeps answering and following while it replays, and appends during it are not lost', async () => {
    await randomHistory(store, 2000, 8);
    engine.start();
    expect(await engine.waitFor(await store.head(), 30_000)).toBe(true);
    const driver = new RepositoryDriver(store);
    let appended = 0;
    let queried = 0;
    const appends: Promise<unknown>[] = [];
    const replaying = engine.replay(() => {
      // Meanwhile: commands land and queries answer from the old read.db.
      if (appended < 5) {
        appended++;
        appends.push(driver.run({ type: 'TagImage', name: `during-replay-${appended}`, tag: 'latest', digest: digest(appended) }));
      }
      void engine.listRepositories().then((r) => {
        if (r.length > 0) queried++;
      });
    });
    await expect(engine.replay()).rejects.toBeInstanceOf(ReplayInProgressError);
    const result = await replaying;
    await Promise.all(appends);
    expect(appends).toHaveLength(5);
    expect(result.checksumAfter).toBe(result.checksumBefore);
    expect(queried).toBeGreaterThan(0);

    // Still following after the swap.
    await driver.run({ type: 'TagImage', name: 'after-replay', tag: 'latest', digest: digest(99) });
    const head = await store.head();
    expect(await engine.waitFor(head, 5000)).toBe(true);
    for (let i = 1; i <= 5; i++) expect((await engine.listTags(`during-replay-${i}`))).toHaveLength(1);
    expect((await engine.listTags('after-replay'))).toHaveLength(1);
    const fresh = await ProjectionEngine.open({ path: join(dir.dir, 'fresh.db'), store, logger: silent });
    await fresh.catchUp();
    expect(await engine.checksum()).toBe(await fresh.checksum());
    await fresh.close();
  });

  it("the early flush before a swap is only a head start: it fails for nothing, and replaceDatabaseFile's fsync stays", async () => {
    await expect((await startFlush(join(dir.dir, 'missing.db'))).done).resolves.toBeUndefined();
    await expect((await startFlush(join(dir.dir, 'strata.db'))).done).resolves.toBeUndefined();
  });

  it('replays an empty log', async () => {
    const result = await engine.replay();
    expect(result.events).toBe(0);
    expect(result.checksumAfter).toBe(result.checksumBefore);
  });
});
