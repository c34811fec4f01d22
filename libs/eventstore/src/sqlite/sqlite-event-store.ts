import Database from 'better-sqlite3';
import { UpcasterChain, type EventEnvelope, type ProposedEvent } from '@strata/domain';
import {
  ConcurrencyError,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type ReadAllOptions,
  type ReadStreamOptions,
  type Subscription,
} from '../port.js';
import { LiveSignal, pollingSubscription } from '../subscription.js';
import { EVENT_LOG_SCHEMA, type EventRow } from './schema.js';

export type SqliteSynchronous = 'FULL' | 'NORMAL' | 'OFF';

export interface SqliteEventStoreOptions {
  /** File path of strata.db (':memory:' only for throwaway stores). */
  path: string;
  /** FULL (default) fsyncs every commit: an acknowledged append survives a power cut. */
  synchronous?: SqliteSynchronous;
  upcasters?: UpcasterChain;
  /** How often a live subscription looks for events written by another process (ms). */
  pollIntervalMs?: number;
}

interface PendingAppend {
  streamId: string;
  expected: ExpectedVersion;
  events: ProposedEvent[];
  commandId: string;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/**
 * The embedded event log. Appends from all in-flight commands are queued and written together in
 * one IMMEDIATE transaction on the next turn of the event loop (group commit): one fsync for many
 * commands. Each append still gets its own concurrency and idempotency check, inside a savepoint,
 * so one conflicting append fails alone and never leaves half its events behind.
 */
export class SqliteEventStore implements EventStore {
  private readonly db: Database.Database;
  private readonly upcasters: UpcasterChain;
  private readonly live = new LiveSignal();
  private readonly pollIntervalMs: number;
  private queue: PendingAppend[] = [];
  private flushScheduled = false;
  private closed = false;

  private readonly stmt: {
    insert: Database.Statement;
    streamVersion: Database.Statement<[string], { v: number | null }>;
    byCommand: Database.Statement<[string], EventRow>;
    readStream: Database.Statement<[string, number, number], EventRow>;
    readAll: Database.Statement<[number, number, number], EventRow>;
    head: Database.Statement<[], { p: number | null }>;
    positionAt: Database.Statement<[string], { p: number | null }>;
  };
  private readonly appendOne: (p: PendingAppend, versions: Map<string, number>) => AppendResult;
  private readonly writeBatch: (batch: PendingAppend[]) => Array<{ ok: AppendResult } | { error: unknown }>;

  constructor(options: SqliteEventStoreOptions) {
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(EVENT_LOG_SCHEMA);
    this.upcasters = options.upcasters ?? new UpcasterChain();
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.stmt = {
      insert: this.db.prepare(
        `INSERT INTO events (event_id, stream_id, version, type, schema_version, occurred_at, actor, command_id,
           correlation_id, causation_id, node_id, data)
         VALUES (@eventId, @streamId, @version, @type, @schemaVersion, @occurredAt, @actor, @commandId,
           @correlationId, @causationId, @nodeId, @data)`,
      ),
      streamVersion: this.db.prepare('SELECT MAX(version) AS v FROM events WHERE stream_id = ?'),
      byCommand: this.db.prepare('SELECT * FROM events WHERE command_id = ? ORDER BY position'),
      readStream: this.db.prepare(
        'SELECT * FROM events WHERE stream_id = ? AND version > ? AND position <= ? ORDER BY version',
      ),
      readAll: this.db.prepare('SELECT * FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?'),
      head: this.db.prepare('SELECT MAX(position) AS p FROM events'),
      positionAt: this.db.prepare('SELECT MAX(position) AS p FROM events WHERE occurred_at <= ?'),
    };
    // Nested db.transaction() calls run as savepoints: a failing append rolls back alone.
    this.appendOne = this.db.transaction((p, versions) => this.write(p, versions));
    this.writeBatch = this.db.transaction((batch: PendingAppend[]) => {
      const versions = new Map<string, number>();
      return batch.map((p) => {
        try {
          return { ok: this.appendOne(p, versions) };
        } catch (error) {
          return { error };
        }
      });
    }).immediate;
  }

  append(streamId: string, expected: ExpectedVersion, events: ProposedEvent[], options: AppendOptions): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('event store is closed'));
    if (events.length === 0) return Promise.reject(new Error('append needs at least one event'));
    if (!options.commandId) return Promise.reject(new Error('append needs a commandId'));
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, expected, events, commandId: options.commandId, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    let outcomes: Array<{ ok: AppendResult } | { error: unknown }>;
    try {
      outcomes = this.writeBatch(batch);
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing of the batch was written.
      for (const p of batch) p.reject(error);
      return;
    }
    // Only now, after COMMIT (and its fsync), is anything acknowledged or published.
    let appended = false;
    outcomes.forEach((outcome, i) => {
      if ('ok' in outcome) {
        appended ||= !outcome.ok.duplicate;
        batch[i].resolve(outcome.ok);
      } else batch[i].reject(outcome.error);
    });
    if (appended) this.live.notify();
  }

  private write(p: PendingAppend, versions: Map<string, number>): AppendResult {
    const previous = this.stmt.byCommand.all(p.commandId);
    if (previous.length > 0) {
      const events = previous.map((row) => this.toEnvelope(row));
      const last = events[events.length - 1];
      return { streamId: last.streamId, version: last.version, position: last.position, events, duplicate: true };
    }
    const current = versions.get(p.streamId) ?? this.stmt.streamVersion.get(p.streamId)?.v ?? 0;
    if (!versionMatches(p.expected, current)) throw new ConcurrencyError(p.streamId, p.expected, current);
    const events: EventEnvelope[] = [];
    let version = current;
    for (const e of p.events) {
      version += 1;
      const envelope = { ...e, streamId: p.streamId, version, commandId: p.commandId };
      const info = this.stmt.insert.run({ ...envelope, data: JSON.stringify(e.data) });
      events.push({ ...envelope, position: Number(info.lastInsertRowid) });
    }
    versions.set(p.streamId, version);
    return { streamId: p.streamId, version, position: events[events.length - 1].position, events, duplicate: false };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    const rows = this.stmt.readStream.all(streamId, options.afterVersion ?? 0, options.untilPosition ?? Number.MAX_SAFE_INTEGER);
    return rows.map((row) => this.toEnvelope(row));
  }

  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    const rows = this.stmt.readAll.all(options.after ?? 0, options.until ?? Number.MAX_SAFE_INTEGER, options.limit ?? 1000);
    return rows.map((row) => this.toEnvelope(row));
  }

  subscribe(after: number): Subscription {
    return pollingSubscription(after, (cursor) => this.readAll({ after: cursor, limit: 500 }), this.live, this.pollIntervalMs);
  }

  async head(): Promise<number> {
    return this.stmt.head.get()?.p ?? 0;
  }

  async positionAt(time: string): Promise<number> {
    return this.stmt.positionAt.get(new Date(time).toISOString())?.p ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.queue.length > 0) this.flush();
    this.live.close();
    this.db.close();
  }

  private toEnvelope(row: EventRow): EventEnvelope {
    return this.upcasters.upcast({
      eventId: row.event_id,
      type: row.type,
      schemaVersion: row.schema_version,
      streamId: row.stream_id,
      version: row.version,
      position: row.position,
      occurredAt: row.occurred_at,
      actor: row.actor,
      commandId: row.command_id,
      correlationId: row.correlation_id,
      causationId: row.causation_id,
      nodeId: row.node_id,
      data: JSON.parse(row.data),
    });
  }
}

export function versionMatches(expected: ExpectedVersion, current: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no-stream') return current === 0;
  return expected === current;
}
