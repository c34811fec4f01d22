import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteEventStore } from '@strata/eventstore';
import { auditLogProjector, PROJECTORS, ProjectionEngine, type Projector } from '@strata/projections';
import { digest, openStore, randomHistory, RepositoryDriver, tempDir } from './helpers.js';

const silent = { log: () => {}, warn: () => {}, error: () => {} };

describe('ProjectionEngine', () => {
  let dir: { dir: string; cleanup(): Promise<void> };
  let store: SqliteEventStore;
  const engines: ProjectionEngine[] = [];
  const open = async (name = 'read.db', extra: Partial<Parameters<typeof ProjectionEngine.open>[0]> = {}) => {
    const engine = await ProjectionEngine.open({ path: join(dir.dir, name), store, logger: silent, ...extra });
    engines.push(engine);
    return engine;
  };
  /** A read.db that applied the whole log in one go, in place: what every other path must reproduce. */
  const referenceChecksum = async () => {
    const engine = await open(`reference-${engines.length}.db`, { batchSize: 10_000, buildFreshFrom: Infinity });
    await engine.catchUp();
    return engine.checksum();
  };

  beforeEach(async () => {
    dir = await tempDir();
    store = openStore(join(dir.dir, 'strata.db'));
  });
  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.close();
    await store.close();
    await dir.cleanup();
  });

  it('follows the log live and waitFor() resolves once the position is reached', async () => {
    const engine = await open();
    engine.start();
    const driver = new RepositoryDriver(store);
    const [event] = await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(1) });
    // A command's reply carries its last position: waiting for it gives read-your-writes.
    expect(await engine.waitFor(event.position + 1, 5000)).toBe(true);
    expect((await engine.listTags('app')).map((t) => t.digest)).toEqual([digest(1)]);
  });

  it('waitFor() returns false when the position is not reached in time', async () => {
    const engine = await open();
    engine.start();
    const started = Date.now();
    expect(await engine.waitFor(1, 150)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(await engine.waitFor(0, 10)).toBe(true);
  });

  it('catches up with a live burst in small batches and reports lag 0 after', async () => {
    const engine = await open('read.db', { batchSize: 50 });
    engine.start();
    const events = await randomHistory(store, 400, 7);
    const head = await store.head();
    expect(head).toBe(events);
    expect(await engine.waitFor(head, 20_000)).toBe(true);
    const status = await engine.status();
    expect(status.head).toBe(head);
    expect(status.projections.map((p) => p.name)).toEqual(PROJECTORS.map((p) => p.name));
    expect(status.projections.every((p) => p.position === head && p.lag === 0)).toBe(true);
    expect(await engine.checksum()).toBe(await referenceChecksum());
  });

  it('status() shows the lag of a stopped engine', async () => {
    const engine = await open();
    await randomHistory(store, 50, 3);
    const head = await store.head();
    expect((await engine.status()).projections.map((p) => p.lag)).toEqual(PROJECTORS.map(() => head));
  });

  it('stopped and restarted mid-way: no duplicate rows, same checksum', async () => {
    await randomHistory(store, 1500, 11);
    const head = await store.head();
    const first = await open('read.db', { batchSize: 40 });
    first.start();
    expect(await first.waitFor(Math.floor(head / 3), 20_000)).toBe(true);
    await first.close();
    engines.splice(engines.indexOf(first), 1);
    const reached = first.position();
    expect(reached).toBeGreaterThan(0);
    expect(reached).toBeLessThan(head);

    const second = await open('read.db', { batchSize: 40 });
    expect(second.position()).toBe(reached); // the checkpoint survived the restart
    second.start();
    expect(await second.waitFor(head, 20_000)).toBe(true);
    // Every event once: the audit log has exactly one row per position.
    const { items } = await second.queryEvents({ limit: 10_000 });
    expect(items.map((e) => e.position)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    expect(await second.checksum()).toBe(await referenceChecksum());
  });

  it('a batch that fails half-way leaves neither rows nor checkpoint behind', async () => {
    await randomHistory(store, 600, 5);
    const head = await store.head();
    const crashAt = 130;
    // The audit projector dies at one event, after the other projectors already wrote theirs in that batch.
    const crashing: Projector = {
      ...auditLogProjector,
      apply(event, writer) {
        if (event.position === crashAt) throw new Error('crash in the middle of a batch');
        auditLogProjector.apply(event, writer);
      },
    };
    const broken = await open('read.db', { batchSize: 50, projectors: [...PROJECTORS.filter((p) => p !== auditLogProjector), crashing] });
    await expect(broken.catchUp()).rejects.toThrow('crash in the middle of a batch');
    expect(broken.position()).toBe(100); // two whole batches, not a row of the third
    expect((await broken.status()).projections.map((p) => p.position)).toEqual(PROJECTORS.map(() => 100));
    expect((await broken.queryEvents({ limit: 10_000 })).items.at(-1)?.position).toBe(100);
    await broken.close();
    engines.splice(engines.indexOf(broken), 1);

    const fixed = await open('read.db', { batchSize: 50 });
    expect(fixed.position()).toBe(100);
    await fixed.catchUp();
    expect(fixed.position()).toBe(head);
    expect(await fixed.checksum()).toBe(await referenceChecksum());
  });

  it('a following engine retries a failed batch from its checkpoint', async () => {
    let failures = 1;
    const flaky: Projector = {
      ...auditLogProjector,
      apply(event, writer) {
        if (event.position === 3 && failures-- > 0) throw new Error('transient');
        auditLogProjector.apply(event, writer);
      },
    };
    const engine = await open('read.db', { projectors: [PROJECTORS[0], PROJECTORS[1], flaky], retryDelayMs: 20 });
    engine.start();
    const driver = new RepositoryDriver(store);
    for (let i = 1; i <= 5; i++) await driver.run({ type: 'TagImage', name: 'app', tag: `v${i}`, digest: digest(i) });
    expect(await engine.waitFor(6, 5000)).toBe(true);
    expect(engine.lastError).toBeNull();
    expect(await engine.checksum()).toBe(await referenceChecksum());
  });

  it('a read.db that cannot be opened is thrown away and rebuilt', async () => {
    await randomHistory(store, 100, 4);
    await writeFile(join(dir.dir, 'read.db'), 'this is not a database, and it is long enough to look like a header'.repeat(100));
    const warnings: string[] = [];
    const engine = await open('read.db', { logger: { ...silent, warn: (m: string) => warnings.push(m) } });
    expect(warnings).toHaveLength(1);
    expect(engine.position()).toBe(0);
    await engine.catchUp();
    expect(await engine.checksum()).toBe(await referenceChecksum());
  });

  it('a projector whose version changed is rebuilt from 0, the others keep their place', async () => {
    await randomHistory(store, 300, 9);
    const head = await store.head();
    const engine = await open();
    await engine.catchUp();
    const before = await engine.checksum();
    await engine.close();
    engines.splice(engines.indexOf(engine), 1);

    const bumped: Projector = { ...PROJECTORS[1], version: PROJECTORS[1].version + 1 };
    const reopened = await open('read.db', { projectors: [PROJECTORS[0], bumped, PROJECTORS[2]] });
    expect((await reopened.status()).projections.map((p) => p.position)).toEqual([head, 0, head]);
    expect((await reopened.tagHistory('app-1'))).toEqual([]);
    await reopened.catchUp();
    expect(await reopened.checksum()).toBe(before);
  });

  /** The schema as SQLite keeps it: tables and indexes, each with its statement. */
  const schemaOf = async (path: string) => {
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(path, { readonly: true });
    try {
      return raw.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name').all();
    } finally {
      raw.close();
    }
  };

  it('a fresh read.db facing a long log is built aside and swapped in: same rows, same schema', async () => {
    await randomHistory(store, 1200, 21);
    const head = await store.head();
    const reference = await referenceChecksum();
    const logs: string[] = [];
    const engine = await open('read.db', { buildFreshFrom: 100, rebuildBatchSize: 300, logger: { ...silent, log: (m: string) => logs.push(m) } });
    engine.start();
    expect(await engine.waitFor(head, 20_000)).toBe(true);
    expect(logs.some((m) => m.includes('building them in'))).toBe(true);
    expect(await engine.checksum()).toBe(reference);
    expect(existsSync(join(dir.dir, 'read.db.build'))).toBe(false);
    // Still following after the swap.
    const [event] = await new RepositoryDriver(store).run({ type: 'TagImage', name: 'after-build', tag: 'latest', digest: digest(1) });
    expect(await engine.waitFor(event.position, 5000)).toBe(true);
    expect((await engine.listTags('after-build')).map((t) => t.digest)).toEqual([digest(1)]);
    await engine.close();
    engines.splice(engines.indexOf(engine), 1);
    // The indexes dropped for the load are back, as an in-place build has them.
    expect(await schemaOf(join(dir.dir, 'read.db'))).toEqual(await schemaOf(join(dir.dir, 'reference-0.db')));
  });

  it('a fresh build that fails leaves the empty read.db and no scratch file; the next one completes it', async () => {
    await randomHistory(store, 600, 5);
    const crashing: Projector = {
      ...auditLogProjector,
      apply(event, writer) {
        if (event.position === 450) throw new Error('crash in the middle of a build');
        auditLogProjector.apply(event, writer);
      },
    };
    const logs: string[] = [];
    const broken = await open('read.db', {
      buildFreshFrom: 1,
      rebuildBatchSize: 100,
      batchSize: 100,
      projectors: [...PROJECTORS.filter((p) => p !== auditLogProjector), crashing],
      logger: { ...silent, log: (m: string) => logs.push(m) },
    });
    await expect(broken.catchUp()).rejects.toThrow('crash in the middle of a build');
    expect(broken.position()).toBe(0);
    expect((await broken.queryEvents({ limit: 10 })).items).toEqual([]);
    expect(existsSync(join(dir.dir, 'read.db.build'))).toBe(false);
    // Not built from 0 again on the next try (a retry loop would redo the whole build each time): row by row instead.
    await expect(broken.catchUp()).rejects.toThrow('crash in the middle of a build');
    expect(broken.position()).toBe(400);
    expect(logs.filter((m) => m.includes('building them in'))).toHaveLength(1);
    await broken.close();
    engines.splice(engines.indexOf(broken), 1);

    const fixed = await open('read.db', { buildFreshFrom: 1, rebuildBatchSize: 100 });
    await fixed.catchUp();
    expect(fixed.position()).toBe(await store.head());
    expect(await fixed.checksum()).toBe(await referenceChecksum());
  });

  it('closing during a fresh build stops it and leaves the empty read.db', async () => {
    await randomHistory(store, 1500, 13);
    const engine = await open('read.db', { buildFreshFrom: 1, rebuildBatchSize: 50 });
    engine.start();
    await new Promise((resolve) => setTimeout(resolve, 30));
    await engine.close();
    engines.splice(engines.indexOf(engine), 1);
    expect(existsSync(join(dir.dir, 'read.db.build'))).toBe(false);
    const reopened = await open('read.db', { buildFreshFrom: 1 });
    // Either the build had finished (whole) or it left nothing: never half a build.
    expect([0, await store.head()]).toContain(reopened.position());
    await reopened.catchUp();
    expect(await reopened.checksum()).toBe(await referenceChecksum());
  });

  it('a replay swaps in a read.db with the same schema as one built in place', async () => {
    await randomHistory(store, 300, 17);
    const engine = await open('read.db', { buildFreshFrom: Infinity });
    await engine.catchUp();
    const before = await schemaOf(join(dir.dir, 'read.db'));
    const result = await engine.replay();
    expect(result.checksumAfter).toBe(result.checksumBefore);
    await engine.close();
    engines.splice(engines.indexOf(engine), 1);
    expect(await schemaOf(join(dir.dir, 'read.db'))).toEqual(before);
  });
});
