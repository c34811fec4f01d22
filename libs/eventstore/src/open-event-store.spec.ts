import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { domainUpcasters } from '@strata/domain';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEventStore, parseEventStoreConfig } from './open-event-store.js';
import { SqliteEventStore } from './sqlite/sqlite-event-store.js';
import { anEvent, command } from './testing/contract-fixtures.js';

describe('openEventStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-open-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('opens a sqlite log, creating its folder, with the upcasters given', async () => {
    const path = join(dir, 'data', 'nested', 'strata.db');
    const store = await openEventStore({ kind: 'sqlite', path, synchronous: 'NORMAL' }, { upcasters: domainUpcasters() });
    try {
      expect(store).toBeInstanceOf(SqliteEventStore);
      expect((store as SqliteEventStore).durability().synchronous).toBe('NORMAL');
      await store.append('repository-x', 'no-stream', [anEvent({ type: 'RepositoryCreated', schemaVersion: 1, data: { name: 'x', isPublic: false } })], command());
      expect((await store.readStream('repository-x'))[0].data).toEqual({ name: 'x', visibility: 'private' });
      expect((await stat(path)).isFile()).toBe(true);
    } finally {
      await store.close();
    }
  });

  it.each([
    ['not an object', 'sqlite'],
    ['an unknown kind', { kind: 'postgres', path: 'x' }],
    ['no path', { kind: 'sqlite' }],
    ['an empty path', { kind: 'sqlite', path: '' }],
    ['an unknown synchronous level', { kind: 'sqlite', path: 'x', synchronous: 'FULL; DROP TABLE events' }],
    ['a bad poll interval', { kind: 'sqlite', path: 'x', pollIntervalMs: -5 }],
    ['a jetstream config without url', { kind: 'jetstream', stream: 'STRATA' }],
    ['a jetstream stream name with a dot', { kind: 'jetstream', url: 'nats://127.0.0.1:4222', stream: 'A.B' }],
    ['a jetstream subject root of two tokens', { kind: 'jetstream', url: 'nats://127.0.0.1:4222', subjectRoot: 'a.b' }],
    ['zero jetstream replicas', { kind: 'jetstream', url: 'nats://127.0.0.1:4222', replicas: 0 }],
  ])('refuses a config with %s', async (_what, config) => {
    expect(() => parseEventStoreConfig(config)).toThrow(TypeError);
    await expect(openEventStore(config as never)).rejects.toThrow(TypeError);
  });

  it('keeps what a valid jetstream config says, and only that', () => {
    expect(parseEventStoreConfig({ kind: 'jetstream', url: 'nats://n1:4222,nats://n2:4222', stream: 'STRATA', replicas: 3, extra: 1 })).toEqual({
      kind: 'jetstream',
      url: 'nats://n1:4222,nats://n2:4222',
      stream: 'STRATA',
      subjectRoot: undefined,
      replicas: 3,
    });
  });

  it('keeps what a valid config says, and only that', () => {
    expect(parseEventStoreConfig({ kind: 'sqlite', path: '/x/strata.db', pollIntervalMs: 250, extra: 1 })).toEqual({
      kind: 'sqlite',
      path: '/x/strata.db',
      synchronous: undefined,
      pollIntervalMs: 250,
    });
  });
});
