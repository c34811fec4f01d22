import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@strata/domain';
import type { SqliteEventStore } from '@strata/eventstore';
import { catchUp, PROJECTORS, ProjectionEngine, ReadDatabase } from '@strata/projections';
import { digest, openStore, prng, randomHistory, tempDir, timeOf } from './helpers.js';

/**
 * A build from 0 (replay, a fresh read.db, time travel) writes `repositories` and `tags` from memory
 * (BulkReadModelWriter); a live read.db writes them event by event (SqlReadModelWriter). Both must end
 * with the same rows: compared by checksum on random mixes, including sequences the domain never
 * produces (tags of a repository that has no row, visibility changes of deleted repositories, a
 * re-created repository whose tags a lost delete left behind).
 */

const NAMES = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? `team${i}/app` : `app-${i}`));
const TAGS = ['latest', 'stable', 'v1', 'v2', 'edge', 'nightly'];
const CONTAINERS = Array.from({ length: 12 }, (_, i) => `c${i.toString(16).padStart(63, '0')}`);

/** Random envelopes straight to the projectors: no decider in the way, so also what it would refuse. */
function randomEvents(count: number, seed: number): EventEnvelope[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const events: EventEnvelope[] = [];
  for (let i = 1; i <= count; i++) {
    const name = pick(NAMES);
    const tag = pick(TAGS);
    const id = pick(CONTAINERS);
    const r = random();
    const [type, data, streamId]: [string, unknown, string] =
      r < 0.08
        ? ['RepositoryCreated', { name, visibility: random() < 0.5 ? 'public' : 'private' }, `repository-${name}`]
        : r < 0.5
          ? ['ImageTagged', { name, tag, digest: digest(1 + Math.floor(random() * 30)), previousDigest: random() < 0.5 ? null : digest(99) }, `repository-${name}`]
          : r < 0.62
            ? ['ImageUntagged', { name, tag, previousDigest: digest(98) }, `repository-${name}`]
            : r < 0.72
              ? ['RepositoryVisibilityChanged', { name, visibility: random() < 0.5 ? 'public' : 'private', previousVisibility: 'private' }, `repository-${name}`]
              : r < 0.77
                ? ['RepositoryDeleted', { name, tags: random() < 0.5 ? {} : { [tag]: digest(97) } }, `repository-${name}`]
                : r < 0.82
                  ? [
                      'ContainerCreated',
                      {
                        id,
                        name: `box-${i}`,
                        image: { manifestDigest: digest(5), imageId: digest(6), reference: 'app:latest', topChainId: null },
                        config: { entrypoint: null, cmd: ['sh'], env: [], workingDir: '/', user: '', labels: {}, hostname: 'h', stopSignal: 'SIGTERM', stopTimeoutSeconds: 10 },
                        restartPolicy: { name: 'on-failure', maximumRetryCount: i % 3 },
                        nodeId: 'n1',
                        snapshotter: 'native',
                      },
                      `container-${id}`,
                    ]
                  : r < 0.87
                    ? ['ContainerStarted', { id, pid: i, restartCount: i % 4 }, `container-${id}`]
                    : r < 0.9
                      ? ['ContainerExited', { id, exitCode: i % 2, reason: 'completed', signal: null, oomKilled: false, error: null }, `container-${id}`]
                      : r < 0.93
                        ? ['ContainerRenamed', { id, from: 'x', to: `renamed-${i}` }, `container-${id}`]
                        : r < 0.96
                          ? ['ContainerFilesChanged', { id, source: 'api', changes: [{ path: `/f${i}`, kind: 'A', type: 'file', size: i, digest: digest(i), mode: 420 }] }, `container-${id}`]
                          : ['ContainerRemoved', { id, name: 'x' }, `container-${id}`];
    events.push({
      position: i,
      eventId: `evt-${seed}-${i}`,
      streamId,
      version: i,
      type,
      schemaVersion: 1,
      data,
      occurredAt: timeOf(i),
      actor: pick(['alice', 'bob']),
      commandId: `cmd-${seed}-${i}`,
      correlationId: `corr-${Math.floor(i / 5)}`,
      causationId: null,
      nodeId: 'n1',
    } as EventEnvelope);
  }
  return events;
}

describe('bulk loads (builds from 0) against per-event writes', () => {
  let dir: { dir: string; cleanup(): Promise<void> };
  const opened: ReadDatabase[] = [];

  const open = async (file: string, bulk?: { bulkRows?: number }) => {
    const db = await ReadDatabase.open({
      path: join(dir.dir, file),
      projectors: PROJECTORS,
      mode: bulk ? 'scratch' : 'live',
      deferIndexes: bulk !== undefined,
      bulkRows: bulk?.bulkRows,
    });
    opened.push(db);
    return db;
  };
  const applyIn = (db: ReadDatabase, events: EventEnvelope[], batch: number) => {
    for (let i = 0; i < events.length; i += batch) db.applyBatch(events.slice(i, i + batch));
  };

  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
    await dir.cleanup();
  });

  it.each([1, 2, 3, 4, 5])('gives the checksum of per-event writes on a random mix of events (seed %i), in memory and evicting', async (seed) => {
    const events = randomEvents(3300, seed);
    const [load, more] = [events.slice(0, 3000), events.slice(3000)];
    // Everything in memory until the end; and bounds so small that names are written out and read back all the time.
    for (const [name, bulkRows, batch] of [['in memory', undefined, 2000], ['evicting', 7, 333], ['one row', 1, 50]] as const) {
      const live = await open(`live-${bulkRows}.db`);
      applyIn(live, load, 97);
      const bulk = await open(`bulk-${bulkRows}.db`, { bulkRows });
      applyIn(bulk, load, batch);
      bulk.finishLoad();
      expect(bulk.checksum(), name).toBe(live.checksum());
      // After the load it follows event by event, as replay's last stretch does.
      applyIn(live, more, 100);
      applyIn(bulk, more, 100);
      expect(bulk.checksum(), `${name}, then event by event`).toBe(live.checksum());
    }
  });

  it("defers the audit log's UNIQUE event_id and gives it back: same schema, a sound file, duplicates refused", async () => {
    const events = randomEvents(500, 11);
    const schema = (db: ReadDatabase) => db.raw.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name').all();
    const live = await open('live.db');
    const bulk = await open('bulk.db', {});
    const uniques = (db: ReadDatabase) => (db.raw.pragma('index_list(audit_log)') as Array<{ name: string; origin: string }>).filter((i) => i.origin === 'u');
    expect(uniques(bulk)).toEqual([]); // made after the load
    applyIn(bulk, events, 200);
    bulk.finishLoad();
    expect(uniques(bulk)).toEqual(uniques(live));
    expect(schema(bulk)).toEqual(schema(live));
    expect(bulk.raw.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    const duplicate = { ...events[0], position: 501 };
    expect(() => bulk.applyBatch([duplicate])).toThrow('UNIQUE constraint failed: audit_log.event_id');
    await bulk.close();
    opened.splice(opened.indexOf(bulk), 1);
    // Reopened (TypeORM's synchronize looks at the schema again): nothing to migrate, rows intact.
    const reopened = await open('bulk.db');
    expect(schema(reopened)).toEqual(schema(live));
    applyIn(live, events, 500);
    expect(reopened.checksum()).toBe(live.checksum());

    // A duplicate within the load fails the build when the index is made.
    const again = await open('again.db', {});
    applyIn(again, [...events.slice(0, 10), { ...events[3], position: 11 }], 100);
    expect(() => again.finishLoad()).toThrow('UNIQUE constraint failed: audit_log.event_id');
  });

  it('a bulk load whose batch failed refuses to go on or finish', async () => {
    const events = randomEvents(200, 9);
    const bulk = await open('bulk.db', {});
    applyIn(bulk, events.slice(0, 100), 100);
    const broken = [...events.slice(100, 150), events[120]]; // out of order: the batch throws after applying some of it
    expect(() => bulk.applyBatch(broken)).toThrow('out of order');
    expect(() => bulk.applyBatch(events.slice(150))).toThrow('bulk load failed');
    expect(() => bulk.finishLoad()).toThrow('bulk load failed');
  });
});

describe('builds from 0 through the engine', () => {
  let dir: { dir: string; cleanup(): Promise<void> };
  let store: SqliteEventStore;

  beforeEach(async () => {
    dir = await tempDir();
    store = openStore(join(dir.dir, 'strata.db'));
  });
  afterEach(async () => {
    await store.close();
    await dir.cleanup();
  });

  it('a fresh build, a replay and time travel give the checksum of a read.db built event by event', async () => {
    await randomHistory(store, 1500, 33);
    const head = await store.head();
    const silent = { log: () => {}, warn: () => {}, error: () => {} };
    const inPlace = await ProjectionEngine.open({ path: join(dir.dir, 'in-place.db'), store, logger: silent, buildFreshFrom: Infinity, batchSize: 50 });
    await inPlace.catchUp();
    const expected = await inPlace.checksum();
    const past = Math.floor(head / 2);
    const pastModel = await inPlace.at({ position: past });
    const pastChecksum = await pastModel.checksum();
    await pastModel.close();
    await inPlace.close();

    const built = await ProjectionEngine.open({ path: join(dir.dir, 'built.db'), store, logger: silent, buildFreshFrom: 1, rebuildBatchSize: 200 });
    await built.catchUp();
    expect(await built.checksum()).toBe(expected);
    const replayed = await built.replay();
    expect(replayed.checksumAfter).toBe(expected);
    expect(replayed.checksumBefore).toBe(expected);

    // Time travel: the same rows as a node that stopped at that position, built event by event.
    const pastInPlace = await ReadDatabase.open({ path: join(dir.dir, 'past.db'), projectors: PROJECTORS, mode: 'live' });
    await catchUp(store, pastInPlace, { batchSize: 37, until: past });
    expect(pastInPlace.checksum()).toBe(pastChecksum);
    await pastInPlace.close();
    await built.close();
  });
});
