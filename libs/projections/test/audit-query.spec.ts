import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventView } from '@strata/api';
import { categoryOf } from '@strata/domain';
import type { SqliteEventStore } from '@strata/eventstore';
import { ProjectionEngine, type EventFilter } from '@strata/projections';
import { openStore, randomHistory, tempDir } from './helpers.js';

describe('audit queries', () => {
  let dir: { dir: string; cleanup(): Promise<void> };
  let store: SqliteEventStore;
  let engine: ProjectionEngine;
  let all: EventView[];

  beforeAll(async () => {
    dir = await tempDir();
    store = openStore(join(dir.dir, 'strata.db'));
    await randomHistory(store, 600, 77);
    // Another aggregate type, so category filters have something to tell apart.
    for (let i = 1; i <= 3; i++) {
      await store.append(
        `container-c${i}`,
        'no-stream',
        [{ eventId: `c-${i}`, type: 'ContainerProbed', schemaVersion: 1, occurredAt: '2025-06-01T00:00:00.000Z', actor: 'bob', correlationId: 'corr-containers', causationId: null, nodeId: 'node-b', data: { id: `c${i}` } }],
        { commandId: `container-cmd-${i}` },
      );
    }
    engine = await ProjectionEngine.open({ path: join(dir.dir, 'read.db'), store });
    await engine.catchUp();
    all = (await store.readAll({ limit: 100_000 })) as EventView[];
    expect(all.length).toBeGreaterThan(400);
  });
  afterAll(async () => {
    await engine.close();
    await store.close();
    await dir.cleanup();
  });

  /** The reference answer: filter the log itself in memory. */
  const expected = (keep: (e: EventView) => boolean) => all.filter(keep);
  const query = async (filter: EventFilter) => (await engine.queryEvents({ limit: 10_000, ...filter })).items;

  it('without a filter returns the whole log, envelopes intact', async () => {
    expect(await query({})).toEqual(all);
  });

  it('filters by stream, category, type(s), actor and correlation id', async () => {
    const stream = all[10].streamId;
    expect(await query({ stream })).toEqual(expected((e) => e.streamId === stream));
    expect(await query({ category: 'container' })).toEqual(expected((e) => categoryOf(e.streamId) === 'container'));
    expect((await query({ category: 'container' })).length).toBe(3);
    expect(await query({ category: 'repository' })).toEqual(expected((e) => categoryOf(e.streamId) === 'repository'));
    expect(await query({ types: ['ImageUntagged'] })).toEqual(expected((e) => e.type === 'ImageUntagged'));
    const two = ['RepositoryCreated', 'RepositoryDeleted'];
    expect(await query({ types: two })).toEqual(expected((e) => two.includes(e.type)));
    expect(await query({ actor: 'bob' })).toEqual(expected((e) => e.actor === 'bob'));
    expect(await query({ correlationId: 'corr-3' })).toEqual(expected((e) => e.correlationId === 'corr-3'));
    expect((await query({ correlationId: 'corr-3' })).length).toBeGreaterThan(0);
    // Filters combine with AND.
    expect(await query({ actor: 'alice', types: ['ImageTagged'], category: 'repository' })).toEqual(
      expected((e) => e.actor === 'alice' && e.type === 'ImageTagged'),
    );
    expect(await query({ stream: 'repository-nope' })).toEqual([]);
  });

  it('bounds by position and by time, inclusive', async () => {
    expect(await query({ sincePosition: 100, untilPosition: 120 })).toEqual(expected((e) => e.position >= 100 && e.position <= 120));
    const since = all[200].occurredAt;
    const until = all[300].occurredAt;
    const byTime = await query({ sinceTime: since, untilTime: until });
    expect(byTime).toEqual(expected((e) => e.occurredAt >= since && e.occurredAt <= until));
    expect(byTime[0].position).toBeLessThanOrEqual(201);
    // Times are normalized: a zone offset means the same instant.
    const shifted = new Date(Date.parse(since)).toISOString().replace('Z', '+00:00');
    expect(await query({ sinceTime: shifted, untilTime: until })).toEqual(byTime);
  });

  it('pages by position: next → after, until the last page says null', async () => {
    const filter: EventFilter = { actor: 'alice', limit: 25 };
    const pages: EventView[][] = [];
    let after: number | undefined;
    for (;;) {
      const page = await engine.queryEvents({ ...filter, after });
      pages.push(page.items);
      expect(page.items.length).toBeLessThanOrEqual(25);
      if (page.next === null) break;
      expect(page.next).toBe(page.items.at(-1)?.position);
      after = page.next;
    }
    expect(pages.length).toBeGreaterThan(2);
    expect(pages.flat()).toEqual(expected((e) => e.actor === 'alice'));
    // An exactly full last page still ends with next = null.
    const count = expected((e) => e.actor === 'bob').length;
    expect((await engine.queryEvents({ actor: 'bob', limit: count })).next).toBeNull();
    expect((await engine.queryEvents({ actor: 'bob', limit: count - 1 })).next).not.toBeNull();
  });

  it('refuses bad filters with a stable code', async () => {
    await expect(engine.queryEvents({ limit: 0 })).rejects.toMatchObject({ code: 'INVALID_FILTER' });
    await expect(engine.queryEvents({ after: -3 })).rejects.toMatchObject({ code: 'INVALID_FILTER' });
    await expect(engine.queryEvents({ sinceTime: 'not a time' })).rejects.toMatchObject({ code: 'INVALID_FILTER' });
  });
});
