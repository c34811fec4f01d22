/**
 * Workload 2: read all events in order, and rebuild every projection from 0.
 * - raw-iterate: better-sqlite3 `SELECT * FROM events ORDER BY position` .iterate() (no JSON parse): the read limit.
 * - strata-read: SqliteEventStore.readAll in pages of 1000 (rows → envelopes, JSON parse, upcasters).
 * - raw-read-insert: iterate() the log and insert the same rows into a fresh database, 500 rows per
 *   transaction, WAL + synchronous=NORMAL (a live read.db's settings): the limit for replay's I/O as
 *   first measured.
 * - raw-read-insert-rebuild: the same copy at the settings Strata's builds from 0 use: journal MEMORY,
 *   synchronous=OFF, 2000 rows per transaction, the log's one non-unique index made after the load,
 *   the file fsynced at the end.
 * - strata-replay: ProjectionEngine.open on a fresh read.db, catchUp() from 0 (every projector): with a
 *   log this long the engine builds it in read.db.build (batches of 2000, indexes after the load) and
 *   swaps it in.
 * - strata-admin-replay: replay() (POST /admin/replay) on an engine already at the head (its catch-up
 *   untimed): rebuild into read.db.replay, a checksum of each read.db, swap.
 * - emmett-read: Emmett readStream of every stream (it has no in-order read-all in its store API).
 */
import 'reflect-metadata';
import Database from 'better-sqlite3';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { domainUpcasters } from '../../libs/domain/src/index.ts';
import { SqliteEventStore } from '../../libs/eventstore/src/index.ts';
import { EVENT_LOG_SCHEMA, rowOf } from '../../libs/eventstore/src/sqlite/schema.ts';
import { ProjectionEngine } from '../../libs/projections/src/index.ts';
import { interleave, proposed, type BenchEvent } from '../lib/events.ts';
import { now } from '../lib/stats.ts';

const INSERT = `INSERT INTO events (position, event_id, stream_id, version, type, schema_version, occurred_at, actor, command_id,
  correlation_id, causation_id, node_id, data)
VALUES (@position, @event_id, @stream_id, @version, @type, @schema_version, @occurred_at, @actor, @command_id,
  @correlation_id, @causation_id, @node_id, @data)`;

/** Setup (not measured): strata.db holding the interleaved log, written in big transactions. */
export function populateStrata(path: string, streams: BenchEvent[][]): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(EVENT_LOG_SCHEMA);
  const insert = db.prepare(INSERT.replace('(position, ', '(').replace('(@position, ', '('));
  const all = interleave(streams);
  const tx = db.transaction((chunk: BenchEvent[]) => {
    for (const e of chunk) insert.run(rowOf(e.streamId, e.version, `cmd-${e.eventId}`, proposed(e)));
  });
  for (let i = 0; i < all.length; i += 10_000) tx(all.slice(i, i + 10_000));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return all.length;
}

/** Setup (not measured): the same streams in Emmett's store, one appendToStream per chunk of a stream. */
export async function populateEmmett(path: string, streams: BenchEvent[][]): Promise<void> {
  (await import('../lib/emmett-shim.ts')).serializeEmmettConnections();
  const { getSQLiteEventStore } = await import('@event-driven-io/emmett-sqlite');
  const store = getSQLiteEventStore({ fileName: path, schema: { autoMigration: 'CreateOrUpdate' } });
  for (const s of streams) {
    for (let i = 0; i < s.length; i += 1000) {
      await store.appendToStream(s[0].streamId, s.slice(i, i + 1000).map((e) => ({ type: e.type, data: e.data })), {
        expectedStreamVersion: BigInt(i),
      });
    }
  }
}

export async function rawIterate(strataDb: string): Promise<{ ms: number; events: number }> {
  const db = new Database(strataDb, { readonly: true });
  const t0 = now();
  let n = 0;
  for (const row of db.prepare('SELECT * FROM events ORDER BY position').iterate()) if (row) n++;
  const ms = now() - t0;
  db.close();
  return { ms, events: n };
}

export async function strataRead(strataDb: string): Promise<{ ms: number; events: number }> {
  const store = new SqliteEventStore({ path: strataDb, upcasters: domainUpcasters() });
  const t0 = now();
  let n = 0;
  let after = 0;
  for (;;) {
    const page = await store.readAll({ after, limit: 1000 });
    if (page.length === 0) break;
    n += page.length;
    after = page[page.length - 1].position;
  }
  const ms = now() - t0;
  await store.close();
  return { ms, events: n };
}

export async function rawReadInsert(strataDb: string, dir: string): Promise<{ ms: number; events: number }> {
  const src = new Database(strataDb, { readonly: true });
  const dst = new Database(join(dir, `copy-${Date.now()}.db`));
  dst.pragma('journal_mode = WAL');
  dst.pragma('synchronous = NORMAL');
  dst.exec(EVENT_LOG_SCHEMA);
  const insert = dst.prepare(INSERT);
  const begin = dst.prepare('BEGIN');
  const commit = dst.prepare('COMMIT');
  const t0 = now();
  let n = 0;
  begin.run();
  for (const row of src.prepare('SELECT * FROM events ORDER BY position').iterate()) {
    insert.run(row as Record<string, unknown>);
    if (++n % 500 === 0) {
      commit.run();
      begin.run();
    }
  }
  commit.run();
  const ms = now() - t0;
  src.close();
  dst.close();
  return { ms, events: n };
}

export async function rawReadInsertRebuild(strataDb: string, dir: string): Promise<{ ms: number; events: number }> {
  const src = new Database(strataDb, { readonly: true });
  const path = join(dir, `copy-${Date.now()}.db`);
  const dst = new Database(path);
  dst.pragma('journal_mode = MEMORY');
  dst.pragma('synchronous = OFF');
  const deferred = 'CREATE INDEX IF NOT EXISTS events_by_command ON events (command_id);';
  if (!EVENT_LOG_SCHEMA.includes(deferred)) throw new Error('the log schema changed: update rawReadInsertRebuild');
  dst.exec(EVENT_LOG_SCHEMA.replace(deferred, ''));
  const insert = dst.prepare(INSERT);
  const begin = dst.prepare('BEGIN');
  const commit = dst.prepare('COMMIT');
  const t0 = now();
  let n = 0;
  begin.run();
  for (const row of src.prepare('SELECT * FROM events ORDER BY position').iterate()) {
    insert.run(row as Record<string, unknown>);
    if (++n % 2000 === 0) {
      commit.run();
      begin.run();
    }
  }
  commit.run();
  dst.exec(deferred);
  dst.close();
  const handle = await open(path, 'r');
  await handle.sync();
  await handle.close();
  const ms = now() - t0;
  src.close();
  return { ms, events: n };
}

export async function strataReplay(strataDb: string, dir: string): Promise<{ ms: number; events: number }> {
  const store = new SqliteEventStore({ path: strataDb, upcasters: domainUpcasters() });
  const engine = await ProjectionEngine.open({ path: join(dir, `read-${Date.now()}.db`), store });
  const t0 = now();
  const n = await engine.catchUp();
  const ms = now() - t0;
  await engine.close();
  await store.close();
  return { ms, events: n };
}

export async function strataAdminReplay(strataDb: string, dir: string): Promise<{ ms: number; events: number }> {
  const store = new SqliteEventStore({ path: strataDb, upcasters: domainUpcasters() });
  const engine = await ProjectionEngine.open({ path: join(dir, `read-${Date.now()}.db`), store });
  await engine.catchUp(); // untimed: a node's read.db is at the head when someone asks for a replay
  const t0 = now();
  const result = await engine.replay();
  const ms = now() - t0;
  if (result.checksumAfter !== result.checksumBefore) throw new Error(`replay: read models differ (${result.checksumBefore} / ${result.checksumAfter})`);
  await engine.close();
  await store.close();
  return { ms, events: result.events };
}

export async function emmettRead(emmettDb: string, streams: BenchEvent[][]): Promise<{ ms: number; events: number }> {
  (await import('../lib/emmett-shim.ts')).serializeEmmettConnections();
  const { getSQLiteEventStore } = await import('@event-driven-io/emmett-sqlite');
  const store = getSQLiteEventStore({ fileName: emmettDb, schema: { autoMigration: 'None' } });
  const t0 = now();
  let n = 0;
  for (const s of streams) n += (await store.readStream(s[0].streamId)).events.length;
  const ms = now() - t0;
  return { ms, events: n };
}
