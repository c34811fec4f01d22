import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@strata/domain';
import type { SqliteEventStore } from '@strata/eventstore';
import { PROJECTORS, ProjectionEngine, type ReadModelWriter } from '@strata/projections';
import { digest, openStore, RepositoryDriver, tempDir, timeOf } from './helpers.js';

/** Records what projectors ask of the writer: the projectors' whole output, with no database. */
function recordingWriter(): { writer: ReadModelWriter; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const writer = new Proxy({} as ReadModelWriter, {
    get: (_target, method) => (...args: unknown[]) => void calls.push([method, ...args]),
  });
  return { writer, calls };
}

describe('projectors', () => {
  let dir: { dir: string; cleanup(): Promise<void> };
  let store: SqliteEventStore;
  let engine: ProjectionEngine;
  let driver: RepositoryDriver;

  beforeEach(async () => {
    dir = await tempDir();
    store = openStore(join(dir.dir, 'strata.db'));
    engine = await ProjectionEngine.open({ path: join(dir.dir, 'read.db'), store });
    driver = new RepositoryDriver(store);
  });
  afterEach(async () => {
    await engine.close();
    await store.close();
    await dir.cleanup();
  });

  it('RepositoryCreated adds a repository with no tags', async () => {
    const [created] = await driver.run({ type: 'CreateRepository', name: 'library/nginx', visibility: 'public' }, { actor: 'bob' });
    await engine.catchUp();
    expect(await engine.listRepositories()).toEqual([
      { name: 'library/nginx', visibility: 'public', tagCount: 0, createdAt: created.occurredAt, updatedAt: created.occurredAt, position: 1 },
    ]);
    expect(await engine.getRepository('library/nginx')).toMatchObject({ name: 'library/nginx' });
    expect(await engine.getRepository('nope')).toBeNull();
  });

  it('ImageTagged sets, then moves a tag, recording both in the history', async () => {
    await driver.run({ type: 'CreateRepository', name: 'app', visibility: 'private' });
    const [set] = await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(1) }, { actor: 'alice' });
    const [moved] = await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(2) }, { actor: 'bob' });
    await engine.catchUp();

    expect((await engine.listTags('app'))).toEqual([
      { repository: 'app', tag: 'latest', digest: digest(2), updatedAt: moved.occurredAt, updatedBy: 'bob', position: moved.position },
    ]);
    expect(await engine.getRepository('app')).toMatchObject({ tagCount: 1, updatedAt: moved.occurredAt, position: moved.position });
    expect((await engine.tagHistory('app', 'latest'))).toEqual([
      { repository: 'app', tag: 'latest', from: null, to: digest(1), at: set.occurredAt, by: 'alice', position: set.position, eventType: 'ImageTagged' },
      { repository: 'app', tag: 'latest', from: digest(1), to: digest(2), at: moved.occurredAt, by: 'bob', position: moved.position, eventType: 'ImageTagged' },
    ]);
  });

  it('TagImage on a missing repository creates it private first', async () => {
    await driver.run({ type: 'TagImage', name: 'fresh', tag: 'v1', digest: digest(3) });
    await engine.catchUp();
    expect(await engine.getRepository('fresh')).toMatchObject({ visibility: 'private', tagCount: 1, position: 2 });
  });

  it('ImageUntagged removes the tag and records a move to nothing', async () => {
    await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(1) });
    await driver.run({ type: 'TagImage', name: 'app', tag: 'v1', digest: digest(1) });
    const [untagged] = await driver.run({ type: 'UntagImage', name: 'app', tag: 'latest' }, { actor: 'ci-bot' });
    await engine.catchUp();

    expect((await engine.listTags('app')).map((t) => t.tag)).toEqual(['v1']);
    expect(await engine.getRepository('app')).toMatchObject({ tagCount: 1, position: untagged.position });
    expect(await engine.tagAt('app', 'latest', untagged.position)).toMatchObject({
      from: digest(1),
      to: null,
      by: 'ci-bot',
      eventType: 'ImageUntagged',
    });
  });

  it('RepositoryVisibilityChanged changes the visibility', async () => {
    await driver.run({ type: 'CreateRepository', name: 'app', visibility: 'private' });
    const [changed] = await driver.run({ type: 'SetRepositoryVisibility', name: 'app', visibility: 'public' });
    await engine.catchUp();
    expect(await engine.getRepository('app')).toMatchObject({
      visibility: 'public',
      updatedAt: changed.occurredAt,
      position: changed.position,
    });
  });

  it('RepositoryDeleted (forced) removes the repository and its tags, and records each removal', async () => {
    await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(1) });
    await driver.run({ type: 'TagImage', name: 'app', tag: 'v1', digest: digest(2) });
    await driver.run({ type: 'TagImage', name: 'other', tag: 'latest', digest: digest(1) });
    const [deleted] = await driver.run({ type: 'DeleteRepository', name: 'app', force: true });
    await engine.catchUp();

    expect((await engine.listRepositories()).map((r) => r.name)).toEqual(['other']);
    expect((await engine.listTags('app'))).toEqual([]);
    const removals = (await engine.tagHistory('app')).filter((m) => m.position === deleted.position);
    expect(removals).toEqual([
      expect.objectContaining({ tag: 'latest', from: digest(1), to: null, eventType: 'RepositoryDeleted' }),
      expect.objectContaining({ tag: 'v1', from: digest(2), to: null, eventType: 'RepositoryDeleted' }),
    ]);
    // Re-created, it starts empty; its old history stays.
    await driver.run({ type: 'CreateRepository', name: 'app', visibility: 'public' });
    await engine.catchUp();
    expect(await engine.getRepository('app')).toMatchObject({ tagCount: 0, visibility: 'public' });
    expect((await engine.tagHistory('app'))).toHaveLength(4);
  });

  it('every event lands in the audit log with its full envelope', async () => {
    const appended = await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(1) }, { correlationId: 'c-1' });
    await engine.catchUp();
    const { items } = await engine.queryEvents();
    expect(items).toEqual(appended);
  });

  it('unknown event types are ignored, but the checkpoint moves past them', async () => {
    await store.append(
      'container-abc',
      'no-stream',
      [{ eventId: 'e-x', type: 'ContainerStarted', schemaVersion: 1, occurredAt: timeOf(1), actor: 'a', correlationId: 'c', causationId: null, nodeId: 'n', data: { id: 'abc' } }],
      { commandId: 'cmd-x' },
    );
    await engine.catchUp();
    expect(engine.position()).toBe(1);
    expect((await engine.status()).projections.every((p) => p.position === 1 && p.lag === 0)).toBe(true);
    expect(await engine.listRepositories()).toEqual([]);
    expect((await engine.queryEvents({ category: 'container' })).items.map((e) => e.type)).toEqual(['ContainerStarted']);
  });

  it('projectors are pure: the same events give the same writes, whatever the time', async () => {
    await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(1) });
    await driver.run({ type: 'TagImage', name: 'app', tag: 'latest', digest: digest(2) });
    await driver.run({ type: 'DeleteRepository', name: 'app', force: true });
    const events: EventEnvelope[] = await store.readAll();
    const run = () => {
      const { writer, calls } = recordingWriter();
      for (const event of events) for (const projector of PROJECTORS) projector.apply(event, writer);
      return calls;
    };
    const first = run();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(run()).toEqual(first);
    expect(first.length).toBeGreaterThan(events.length);
  });
});
