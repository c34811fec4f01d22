/**
 * Workload 1: append, SQLite, WAL, synchronous=FULL everywhere.
 * - strata-command: ExecuteCommandHandler (load → decide → append, idempotency check) built directly,
 *   as in its spec (no Nest container, no HTTP; the EventBus is a no-op).
 * - strata-store: SqliteEventStore.append alone.
 * - raw: better-sqlite3, one INSERT per event in its own (autocommit) transaction, same schema: the limit.
 * - emmett: @event-driven-io/emmett-sqlite appendToStream, one event per call.
 * Each writer mode: one sequential writer over all streams, or 64 concurrent writers, one stream each.
 */
import 'reflect-metadata';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { domainUpcasters, imageStreamId } from '../../libs/domain/src/index.ts';
import { SqliteEventStore } from '../../libs/eventstore/src/index.ts';
import { EVENT_LOG_SCHEMA, rowOf } from '../../libs/eventstore/src/sqlite/schema.ts';
import { ExecuteCommandHandler } from '../../apps/strata/src/commands/execute-command.handler.ts';
import { ExecuteCommand } from '../../apps/strata/src/commands/execute-command.ts';
import { Metrics } from '../../apps/strata/src/metrics/metrics.ts';
import { interleave, metaOf, proposed, type BenchEvent } from '../lib/events.ts';
import { now } from '../lib/stats.ts';

export type Writers = 'sequential' | 'concurrent';
export interface AppendResult {
  ms: number;
  events: number;
  extra?: Record<string, unknown>;
}

/** Sequential: one writer over the interleaved log. Concurrent: one writer per stream, all at once. */
async function drive(streams: BenchEvent[][], writers: Writers, one: (e: BenchEvent) => Promise<unknown>): Promise<number> {
  const t0 = now();
  if (writers === 'sequential') {
    for (const e of interleave(streams)) await one(e);
  } else {
    await Promise.all(streams.map(async (s) => {
      for (const e of s) await one(e);
    }));
  }
  return now() - t0;
}

const count = (streams: BenchEvent[][]) => streams.reduce((n, s) => n + s.length, 0);

export async function raw(dir: string, streams: BenchEvent[][]): Promise<AppendResult> {
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(EVENT_LOG_SCHEMA);
  const insert = db.prepare(
    `INSERT INTO events (event_id, stream_id, version, type, schema_version, occurred_at, actor, command_id,
       correlation_id, causation_id, node_id, data)
     VALUES (@event_id, @stream_id, @version, @type, @schema_version, @occurred_at, @actor, @command_id,
       @correlation_id, @causation_id, @node_id, @data)`,
  );
  const t0 = now();
  for (const e of interleave(streams)) insert.run(rowOf(e.streamId, e.version, `cmd-${e.eventId}`, proposed(e)));
  const ms = now() - t0;
  db.close();
  return { ms, events: count(streams) };
}

export async function strataStore(dir: string, streams: BenchEvent[][], writers: Writers): Promise<AppendResult> {
  const store = new SqliteEventStore({ path: join(dir, 'strata.db'), synchronous: 'FULL', upcasters: domainUpcasters() });
  const ms = await drive(streams, writers, (e) =>
    store.append(e.streamId, e.version === 1 ? 'no-stream' : e.version - 1, [proposed(e)], { commandId: `cmd-${e.eventId}` }),
  );
  const stats = store.groupCommitStats();
  await store.close();
  return { ms, events: count(streams), extra: { appendsPerTransaction: stats.appends / stats.transactions } };
}

export async function strataCommand(dir: string, streams: BenchEvent[][], writers: Writers): Promise<AppendResult> {
  const store = new SqliteEventStore({ path: join(dir, 'strata.db'), synchronous: 'FULL', upcasters: domainUpcasters() });
  // Tags point only at images the log knows: record every digest the workload tags, before timing.
  const digests = new Set(streams.flat().flatMap((e) => (e.command.name === 'TagImage' ? [(e.command.input as { digest: string }).digest] : [])));
  for (const d of digests) {
    await store.append(imageStreamId(d), 'no-stream', [
      { eventId: `img-${d}`, type: 'ImageCreated', schemaVersion: 1, occurredAt: '2026-01-01T00:00:00.000Z', actor: 'bench', correlationId: 'bench', causationId: null, nodeId: 'bench', data: { manifestDigest: d, imageId: d } },
    ], { commandId: `img-${d}` });
  }
  // The image resolver, content store and read models are not used by these commands (digests, not references).
  const handler = new ExecuteCommandHandler(store, { publishAll: () => undefined } as never, new Metrics(), {} as never, {} as never, {} as never);
  const setup = store.groupCommitStats(); // the image appends above are not the workload's
  let events = 0;
  const ms = await drive(streams, writers, async (e) => {
    const reply = await handler.execute(new ExecuteCommand(e.command.name, e.command.input, metaOf(e)));
    events += reply.events.length;
  });
  const end = store.groupCommitStats();
  const stats = { appends: end.appends - setup.appends, transactions: end.transactions - setup.transactions };
  await store.close();
  if (events !== count(streams)) throw new Error(`command path appended ${events} events, expected ${count(streams)}`);
  return { ms, events, extra: { appendsPerTransaction: stats.appends / stats.transactions } };
}

export async function emmett(dir: string, streams: BenchEvent[][], writers: Writers): Promise<AppendResult> {
  (await import('../lib/emmett-shim.ts')).serializeEmmettConnections();
  const { getSQLiteEventStore } = await import('@event-driven-io/emmett-sqlite');
  const store = getSQLiteEventStore({ fileName: join(dir, 'emmett.db'), schema: { autoMigration: 'CreateOrUpdate' } });
  const ms = await drive(streams, writers, (e) =>
    store.appendToStream(e.streamId, [{ type: e.type, data: e.data, metadata: { eventId: e.eventId } }], {
      expectedStreamVersion: BigInt(e.version - 1),
    }),
  );
  return { ms, events: count(streams) };
}
