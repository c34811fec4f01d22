import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpcasterChain } from '@strata/domain';
import { ConcurrencyError } from '../port.js';
import { factoryFromConfig } from '../testing/config-factory.js';
import { anEvent, command, consume, readWholeLog, waitUntil, within } from '../testing/contract-fixtures.js';
import { eventStoreContract } from '../testing/event-store-contract.js';
import { envelopeOf, type EventRow } from './schema.js';
import { SqliteEventStore } from './sqlite-event-store.js';

eventStoreContract(
  'sqlite',
  factoryFromConfig(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-eventstore-'));
    return { config: { kind: 'sqlite', path: join(dir, 'strata.db') }, destroy: () => rm(dir, { recursive: true, force: true }) };
  }),
);

describe('SqliteEventStore', () => {
  let dir: string;
  let path: string;
  const opened: Array<{ close(): unknown }> = [];
  const open = (options: Partial<ConstructorParameters<typeof SqliteEventStore>[0]> = {}) => {
    const store = new SqliteEventStore({ path, ...options });
    opened.push(store);
    return store;
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-sqlite-'));
    path = join(dir, 'strata.db');
  });
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs in WAL mode with synchronous=FULL by default, and as configured otherwise', () => {
    expect(open().durability()).toEqual({ journalMode: 'wal', synchronous: 'FULL' });
    expect(open({ synchronous: 'NORMAL' }).durability()).toEqual({ journalMode: 'wal', synchronous: 'NORMAL' });
    const raw = new Database(path, { readonly: true });
    opened.push(raw);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal'); // recorded in the file itself
  });

  it('refuses a synchronous level that is not one it knows (it goes into a pragma)', () => {
    expect(() => open({ synchronous: 'FULL; DROP TABLE events' as 'FULL' })).toThrow(/synchronous/);
  });

  it('group commit: appends sent in the same turn share one transaction; awaited ones do not', async () => {
    const store = open();
    await Promise.all(Array.from({ length: 64 }, (_, i) => store.append(`s-${i}`, 'no-stream', [anEvent()], command())));
    expect(store.groupCommitStats()).toEqual({ transactions: 1, appends: 64 });
    for (let i = 0; i < 3; i++) await store.append('s-0', 'any', [anEvent()], command());
    expect(store.groupCommitStats()).toEqual({ transactions: 4, appends: 67 });
  });

  it('an append that fails halfway through its inserts leaves none of them; its batch-mates are written', async () => {
    const store = open();
    const existing = anEvent();
    await store.append('s-0', 'no-stream', [existing], command());
    const firstOfTorn = anEvent();
    // The second event reuses an eventId (UNIQUE): the failure comes after the first insert of the append.
    const [a, torn, c] = await Promise.allSettled([
      store.append('s-a', 'no-stream', [anEvent()], command()),
      store.append('s-torn', 'no-stream', [firstOfTorn, anEvent({ eventId: existing.eventId })], command('cmd-torn')),
      store.append('s-c', 'no-stream', [anEvent(), anEvent()], command()),
    ]);
    expect(store.groupCommitStats().transactions).toBe(2);
    expect([a.status, torn.status, c.status]).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(torn.status === 'rejected' && torn.reason).not.toBeInstanceOf(ConcurrencyError);
    expect(await store.readStream('s-torn')).toEqual([]);
    expect((await readWholeLog(store)).map((e) => e.eventId)).not.toContain(firstOfTorn.eventId);
    expect(await readWholeLog(store)).toHaveLength(4);
  });

  it('a batch that cannot commit (the file locked by another writer) fails whole and acknowledges nothing', async () => {
    const store = open({ busyTimeoutMs: 50 });
    const locker = new Database(path);
    opened.push(locker);
    locker.exec('BEGIN IMMEDIATE');
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => store.append(`s-${i}`, 'no-stream', [anEvent()], command(`cmd-${i}`))));
    expect(results.every((r) => r.status === 'rejected' && /locked|busy/i.test(String(r.reason)))).toBe(true);
    locker.exec('ROLLBACK');
    expect(await readWholeLog(store)).toEqual([]);
    // Nothing was recorded: the same commands go through now, as first appends.
    const retried = await Promise.all(Array.from({ length: 5 }, (_, i) => store.append(`s-${i}`, 'no-stream', [anEvent()], command(`cmd-${i}`))));
    expect(retried.every((r) => !r.duplicate && r.version === 1)).toBe(true);
  });

  it('a batch whose transaction SQLite rolls back whole (disk full) fails whole: nothing acknowledged, nothing written', async () => {
    const store = open();
    await store.append('s-0', 'no-stream', [anEvent()], command());
    // Reaching into the connection is the only way to make the disk "full" for this test.
    const db = (store as unknown as { db: Database.Database }).db;
    db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true })) + 2}`);
    const send = () => [
      store.append('s-small-1', 'no-stream', [anEvent()], command('cmd-small-1')),
      store.append('s-huge', 'no-stream', [anEvent({ data: { blob: 'x'.repeat(200_000) } })], command('cmd-huge')),
      store.append('s-small-2', 'no-stream', [anEvent()], command('cmd-small-2')),
    ];
    const results = await Promise.allSettled(send());
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'SQLITE_FULL')).toBe(true);
    expect(await readWholeLog(store)).toHaveLength(1);
    db.pragma('max_page_count = 1073741823');
    const retried = await Promise.all(send());
    expect(retried.map((r) => r.duplicate)).toEqual([false, false, false]);
  });

  it('a live subscription sees appends made through another connection to the file, by polling', async () => {
    const reader = open({ pollIntervalMs: 50 });
    const writer = open();
    const subscription = reader.subscribe(0);
    const seen = consume(subscription);
    const result = await writer.append('s-1', 'no-stream', [anEvent(), anEvent()], command());
    await waitUntil(() => seen.events.length === 2, 'the other connection’s events', 3000);
    expect(seen.events).toStrictEqual(result.events);
    await subscription.close();
    await within(seen.finished, 2000, 'the subscription to end');
  });

  it("a live subscription is woken by its own store's appends, not by the poll timer", async () => {
    const store = open({ pollIntervalMs: 3_600_000 });
    const subscription = store.subscribe(0);
    const seen = consume(subscription);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await store.append('s-1', 'no-stream', [anEvent()], command());
    await waitUntil(() => seen.events.length === 1, 'the event', 1000);
    await subscription.close();
    await within(seen.finished, 1000, 'the subscription to end');
  });

  it('upcasts on read only: the row of an old event stays as it was written', async () => {
    const store = open();
    await store.append('repository-x', 'no-stream', [anEvent({ type: 'RepositoryCreated', schemaVersion: 1, data: { name: 'x', isPublic: true } })], command());
    await store.readStream('repository-x');
    const raw = new Database(path, { readonly: true });
    opened.push(raw);
    expect(raw.prepare('SELECT schema_version, data FROM events').get()).toEqual({ schema_version: 1, data: '{"name":"x","isPublic":true}' });
  });

  it("an append's answer, readAll, readStream and readCommand (rows as arrays) all give the envelopes of the rows as stored, key order included", async () => {
    const upcasters = new UpcasterChain([{ type: 'ProbeHappened', fromVersion: 1, upcast: (data) => ({ ...(data as object), lifted: true }) }]);
    const store = open({ upcasters });
    const answers = [
      await store.append('s-1', 'no-stream', [anEvent(), anEvent({ type: 'Other', schemaVersion: 3, causationId: 'cause-1', data: { list: [1, 'two', null], nested: { é: '\u2028' }, gone: undefined } })], command('c-1')),
      await store.append('s-2', 'no-stream', [anEvent({ type: 'Other', data: null })], command('c-2')),
    ];
    // The reference: every column read back as an object (SELECT *), made an envelope by envelopeOf, upcast.
    const raw = new Database(path, { readonly: true });
    opened.push(raw);
    const stored = (raw.prepare('SELECT * FROM events ORDER BY position').all() as EventRow[]).map((row) => upcasters.upcast(envelopeOf(row)));
    expect(stored).toHaveLength(3);
    expect(stored[0]).toMatchObject({ schemaVersion: 2, data: { lifted: true } });
    expect(stored[1].data).toStrictEqual({ list: [1, 'two', null], nested: { é: '\u2028' } });
    const all = await store.readAll();
    const byStream = [...(await store.readStream('s-1')), ...(await store.readStream('s-2'))];
    const byCommand = [...(await store.readCommand('c-1')), ...(await store.readCommand('c-2'))];
    const appended = answers.flatMap((a) => a.events);
    const retried = [...(await store.append('s-1', 'any', [anEvent()], command('c-1'))).events, ...(await store.append('s-2', 'any', [anEvent()], command('c-2'))).events];
    for (const other of [all, byStream, byCommand, appended, retried]) {
      expect(other).toStrictEqual(stored);
      expect(JSON.stringify(other)).toBe(JSON.stringify(stored));
    }
  });

  it('reads asked for in the same turn share one read transaction; each has its own outcome, and the transaction is over after them', async () => {
    const db = () => (store as unknown as { db: Database.Database }).db;
    const inTransaction: boolean[] = [];
    let failing = false;
    const upcasters = new UpcasterChain([
      {
        type: 'ProbeHappened',
        fromVersion: 1,
        upcast: (data) => {
          inTransaction.push(db().inTransaction);
          if (failing && (data as { fail?: boolean }).fail) throw new Error('upcaster failed');
          return data;
        },
      },
    ]);
    const store = open({ upcasters });
    await store.append('s-ok', 'no-stream', [anEvent({ data: {} })], command('c-ok'));
    await store.append('s-bad', 'no-stream', [anEvent({ data: { fail: true } })], command('c-bad'));
    inTransaction.length = 0;
    failing = true;
    const [ok, bad, byCommand] = await Promise.allSettled([store.readStream('s-ok'), store.readStream('s-bad'), store.readCommand('c-ok')]);
    expect([ok.status, bad.status, byCommand.status]).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(inTransaction).toEqual([true, true, true]);
    expect(db().inTransaction).toBe(false);
    // One read alone needs no BEGIN … COMMIT of its own.
    inTransaction.length = 0;
    await store.readStream('s-ok');
    expect(inTransaction).toEqual([false]);
    // Nothing was left open: appends (BEGIN IMMEDIATE) go on.
    expect((await store.append('s-ok', 1, [anEvent({ data: {} })], command())).version).toBe(2);
  });

  it('reads asked for just before close are answered, not failed; reads after it are refused', async () => {
    const store = open();
    await store.append('s-1', 'no-stream', [anEvent()], command('c-1'));
    const reads = [store.readStream('s-1'), store.readCommand('c-1')];
    await store.close();
    const [stream, byCommand] = await Promise.all(reads);
    expect(stream).toHaveLength(1);
    expect(byCommand).toStrictEqual(stream);
    await expect(store.readStream('s-1')).rejects.toThrow(/closed/);
  });

  it('an append of one event (written without a savepoint) that fails its insert fails alone; its batch-mates are written', async () => {
    const store = open();
    const existing = anEvent();
    await store.append('s-0', 'no-stream', [existing], command());
    const [a, clash, c] = await Promise.allSettled([
      store.append('s-a', 'no-stream', [anEvent()], command()),
      store.append('s-clash', 'no-stream', [anEvent({ eventId: existing.eventId })], command('cmd-clash')),
      store.append('s-c', 'no-stream', [anEvent()], command()),
    ]);
    expect(store.groupCommitStats().transactions).toBe(2);
    expect([a.status, clash.status, c.status]).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(clash.status === 'rejected' && String(clash.reason)).toMatch(/UNIQUE/);
    expect(await store.readStream('s-clash')).toEqual([]);
    expect(await store.readCommand('cmd-clash')).toEqual([]);
    expect((await readWholeLog(store)).map((e) => e.streamId)).toEqual(['s-0', 's-a', 's-c']);
  });

  it('refuses a readAll limit below 1 (SQLite would read a negative LIMIT as no limit)', async () => {
    const store = open();
    await store.append('s-1', 'no-stream', [anEvent(), anEvent()], command());
    await expect(store.readAll({ limit: -1 })).rejects.toThrow(RangeError);
    await expect(store.readAll({ limit: 0 })).rejects.toThrow(RangeError);
  });
});
