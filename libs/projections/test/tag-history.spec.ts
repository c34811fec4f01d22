import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqliteEventStore } from '@strata/eventstore';
import { ProjectionEngine } from '@strata/projections';
import { digest, openStore, RepositoryDriver, tempDir } from './helpers.js';

describe('tag history', () => {
  let dir: { dir: string; cleanup(): Promise<void> };
  let store: SqliteEventStore;
  let engine: ProjectionEngine;

  beforeEach(async () => {
    dir = await tempDir();
    store = openStore(join(dir.dir, 'strata.db'));
    engine = await ProjectionEngine.open({ path: join(dir.dir, 'read.db'), store });
    const driver = new RepositoryDriver(store);
    const at = (hhmm: string) => ({ occurredAt: `2025-03-01T${hhmm}:00.000Z`, actor: 'alice' });
    await driver.run({ type: 'CreateRepository', name: 'app', visibility: 'public' }, at('10:00')); // 1
    await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(1) }, at('10:10')); // 2
    await driver.run({ type: 'TagImage', name: 'app', tag: 'stable', digest: digest(1) }, at('10:20')); // 3
    await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(2) }, { ...at('10:30'), actor: 'bob' }); // 4
    await driver.run({ type: 'UntagImage', name: 'app', tag: 'latest' }, at('10:40')); // 5
    await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(3) }, at('10:50')); // 6
    await engine.catchUp();
  });
  afterEach(async () => {
    await engine.close();
    await store.close();
    await dir.cleanup();
  });

  it('lists every move of one tag, oldest first', async () => {
    const items = await engine.tagHistory('app', 'latest');
    expect(items.map((m) => [m.position, m.from, m.to, m.by, m.at])).toEqual([
      [2, null, digest(1), 'alice', '2025-03-01T10:10:00.000Z'],
      [4, digest(1), digest(2), 'bob', '2025-03-01T10:30:00.000Z'],
      [5, digest(2), null, 'alice', '2025-03-01T10:40:00.000Z'],
      [6, null, digest(3), 'alice', '2025-03-01T10:50:00.000Z'],
    ]);
    expect((await engine.tagHistory('app')).map((m) => `${m.position}:${m.tag}`)).toEqual([
      '2:latest',
      '3:stable',
      '4:latest',
      '5:latest',
      '6:latest',
    ]);
  });

  it('answers what app:latest pointed to at a position', async () => {
    expect(await engine.tagAt('app', 'latest', 1)).toBeNull(); // not yet tagged
    expect((await engine.tagAt('app', 'latest', 2))?.to).toBe(digest(1));
    expect((await engine.tagAt('app', 'latest', 3))?.to).toBe(digest(1));
    expect((await engine.tagAt('app', 'latest', 4))?.to).toBe(digest(2));
    expect(await engine.tagAt('app', 'latest', 5)).toMatchObject({ from: digest(2), to: null }); // removed then
    expect((await engine.tagAt('app', 'latest', 1000))?.to).toBe(digest(3));
  });

  it('answers what app:latest pointed to at a time ("at 10:32?")', async () => {
    const position = await engine.resolvePosition({ time: '2025-03-01T10:32:00Z' });
    expect(position).toBe(4);
    expect(await engine.tagAt('app', 'latest', position)).toMatchObject({ to: digest(2), by: 'bob' });
    // The same through time travel: the tags as they were then.
    const past = await engine.at({ time: '2025-03-01T10:32:00Z' });
    expect((await past.listTags('app')).map((t) => [t.tag, t.digest])).toEqual([
      ['latest', digest(2)],
      ['stable', digest(1)],
    ]);
    await past.close();
  });
});
