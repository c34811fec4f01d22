import Database from 'better-sqlite3';
import { UpcasterChain, type EventEnvelope, type ProposedEvent } from '@strata/domain';
import { checkAppend } from '../append-input.js';
import {
  ConcurrencyError,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoreHealth,
  type Subscription,
} from '../port.js';
import { LiveSignal, pollingSubscription } from '../subscription.js';
import { EVENT_COLUMNS, EVENT_LOG_SCHEMA, envelopeOf, envelopeOfValues, rowOf, type EventRow, type EventValues } from './schema.js';

export const SQLITE_SYNCHRONOUS = ['FULL', 'NORMAL', 'OFF'] as const;
export type SqliteSynchronous = (typeof SQLITE_SYNCHRONOUS)[number];

export interface SqliteEventStoreOptions {
  /** File path of strata.db (':memory:' only for throwaway stores). */
  path: string;
  /** FULL (default) fsyncs every commit: an acknowledged append survives a power cut. */
  synchronous?: SqliteSynchronous;
  upcasters?: UpcasterChain;
  /** How often a live subscription looks for events written by another process (ms). */
  pollIntervalMs?: number;
  /** How long a batch waits for another process's write lock before its appends fail (ms). */
  busyTimeoutMs?: number;
}

/** How well group commit groups: appends written per transaction (and so per fsync). */
export interface GroupCommitStats {
  transactions: number;
  appends: number;
}

interface PendingAppend {
  streamId: string;
  expected: ExpectedVersion;
  events: ProposedEvent[];
  commandId: string;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

interface Written {
  rows: EventRow[];
  duplicate: boolean;
}

type Outcome = { ok: Written } | { error: unknown };

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
  private readonly stats: GroupCommitStats = { transactions: 0, appends: 0 };
  private queue: PendingAppend[] = [];
  private flushScheduled = false;
  private closed = false;

  private readonly stmt: {
    insert: Database.Statement<[Omit<EventRow, 'position'>]>;
    streamVersion: Database.Statement<[string], { v: number | null }>;
    byCommand: Database.Statement<[string], EventRow>;
    readStream: Database.Statement<[string, number, number], EventRow>;
    readAll: Database.Statement<[number, number, number], EventValues>;
    head: Database.Statement<[], { p: number | null }>;
    positionAt: Database.Statement<[string], { p: number | null }>;
  };
  private readonly writeBatch: (batch: PendingAppend[]) => Outcome[];

  constructor(options: SqliteEventStoreOptions) {
    const synchronous = options.synchronous ?? 'FULL';
    // Interpolated into a pragma below: only the known words may get there.
    if (!SQLITE_SYNCHRONOUS.includes(synchronous)) throw new Error(`synchronous must be one of ${SQLITE_SYNCHRONOUS.join(', ')}`);
    this.db = new Database(options.path);
    // Before anything that may need a lock: another process may be opening or writing the same file.
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 10_000))}`);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${synchronous}`);
    this.db.exec(EVENT_LOG_SCHEMA);
    this.upcasters = options.upcasters ?? new UpcasterChain();
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.stmt = {
      insert: this.db.prepare(
        `INSERT INTO events (event_id, stream_id, version, type, schema_version, occurred_at, actor, command_id,
           correlation_id, causation_id, node_id, data)
         VALUES (@event_id, @stream_id, @version, @type, @schema_version, @occurred_at, @actor, @command_id,
           @correlation_id, @causation_id, @node_id, @data)`,
      ),
      streamVersion: this.db.prepare('SELECT MAX(version) AS v FROM events WHERE stream_id = ?'),
      byCommand: this.db.prepare('SELECT * FROM events WHERE command_id = ? ORDER BY position'),
      readStream: this.db.prepare(
        'SELECT * FROM events WHERE stream_id = ? AND version > ? AND position <= ? ORDER BY version',
      ),
      // Rows as arrays: the read of a replay or catch-up from 0 (pages of thousands of events).
      readAll: this.db
        .prepare<[number, number, number], EventValues>(`SELECT ${EVENT_COLUMNS} FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?`)
        .raw(true),
      head: this.db.prepare('SELECT MAX(position) AS p FROM events'),
      positionAt: this.db.prepare('SELECT MAX(position) AS p FROM events WHERE occurred_at <= ?'),
    };
    // Called inside the batch's transaction, db.transaction() runs as a savepoint: a failing append rolls back alone.
    const appendOne = this.db.transaction((p: PendingAppend) => this.write(p));
    this.writeBatch = this.db.transaction((batch: PendingAppend[]) =>
      batch.map((p): Outcome => {
        try {
          return { ok: appendOne(p) };
        } catch (error) {
          // Some errors (I/O, disk full) make SQLite roll back the whole transaction, not just the
          // savepoint. Going on would run the next appends in autocommit, outside this batch, and
          // then fail the COMMIT: fail the whole batch now instead, as nothing of it is written.
          if (!this.db.inTransaction) throw error;
          return { error };
        }
      }),
    ).immediate;
  }

  append(streamId: string, expected: ExpectedVersion, events: ProposedEvent[], options: AppendOptions): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('event store is closed'));
    let checked: ProposedEvent[];
    try {
      checked = checkAppend(streamId, expected, events, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, expected, events: checked, commandId: options.commandId, resolve, reject });
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
    let outcomes: Outcome[];
    try {
      outcomes = this.writeBatch(batch);
    } catch (error) {
      // BEGIN or COMMIT failed (locked by another process, disk full, I/O error): nothing of the batch was written.
      for (const p of batch) p.reject(error);
      return;
    }
    this.stats.transactions += 1;
    this.stats.appends += batch.length;
    // Only now, after COMMIT (and its fsync), is anything acknowledged or published.
    let appended = false;
    outcomes.forEach((outcome, i) => {
      if ('error' in outcome) return batch[i].reject(outcome.error);
      appended ||= !outcome.ok.duplicate;
      try {
        batch[i].resolve(this.resultOf(outcome.ok));
      } catch (error) {
        batch[i].reject(error); // an upcaster that throws; the events are written all the same
      }
    });
    if (appended) this.live.notify();
  }

  /** Runs inside the append's savepoint; throws to roll that append back. */
  private write(p: PendingAppend): Written {
    // Idempotency comes before the version check: a retry answers with the first result even if the
    // stream has moved on since.
    const previous = this.stmt.byCommand.all(p.commandId);
    if (previous.length > 0) return { rows: previous, duplicate: true };
    // Earlier appends of this batch are visible here: same connection, same transaction.
    const current = this.stmt.streamVersion.get(p.streamId)?.v ?? 0;
    if (!versionMatches(p.expected, current)) throw new ConcurrencyError(p.streamId, p.expected, current);
    const rows = p.events.map((event, i) => {
      const row = rowOf(p.streamId, current + i + 1, p.commandId, event);
      const info = this.stmt.insert.run(row);
      return { ...row, position: Number(info.lastInsertRowid) };
    });
    return { rows, duplicate: false };
  }

  /** Built from the rows, so an append's answer is exactly what a later read (or a retry) returns. */
  private resultOf({ rows, duplicate }: Written): AppendResult {
    const events = rows.map((row) => this.toEnvelope(row));
    const last = events[events.length - 1];
    return { streamId: last.streamId, version: last.version, position: last.position, events, duplicate };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    this.assertOpen();
    const rows = this.stmt.readStream.all(streamId, options.afterVersion ?? 0, options.untilPosition ?? Number.MAX_SAFE_INTEGER);
    return rows.map((row) => this.toEnvelope(row));
  }

  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    this.assertOpen();
    const limit = options.limit ?? 1000;
    // SQLite reads a negative LIMIT as "no limit": refuse it rather than return the whole log.
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer >= 1, not ${limit}`);
    const rows = this.stmt.readAll.all(options.after ?? 0, options.until ?? Number.MAX_SAFE_INTEGER, limit);
    const events = new Array<EventEnvelope>(rows.length);
    for (let i = 0; i < rows.length; i++) events[i] = this.upcasters.upcast(envelopeOfValues(rows[i]));
    return events;
  }

  subscribe(after: number): Subscription {
    return pollingSubscription(after, (cursor) => this.readAll({ after: cursor, limit: 500 }), this.live, this.pollIntervalMs);
  }

  async readCommand(commandId: string): Promise<EventEnvelope[]> {
    this.assertOpen();
    return this.stmt.byCommand.all(commandId).map((row) => this.toEnvelope(row));
  }

  async head(): Promise<number> {
    this.assertOpen();
    return this.stmt.head.get()?.p ?? 0;
  }

  async positionAt(time: string): Promise<number> {
    this.assertOpen();
    const at = new Date(time);
    if (Number.isNaN(at.getTime())) throw new RangeError(`not a time: ${time}`);
    // occurred_at is stored canonical (toISOString), so text order is time order.
    return this.stmt.positionAt.get(at.toISOString())?.p ?? 0;
  }

  health(): StoreHealth {
    return { backend: 'sqlite', connected: this.db.open, detail: this.db.name };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush(); // appends accepted before close are written and answered, not dropped
    this.live.close();
    this.db.close();
  }

  /** What this connection really runs with (WAL, synchronous): for tests and diagnostics. */
  durability(): { journalMode: string; synchronous: string } {
    const journalMode = String(this.db.pragma('journal_mode', { simple: true }));
    const level = Number(this.db.pragma('synchronous', { simple: true }));
    return { journalMode, synchronous: ['OFF', 'NORMAL', 'FULL', 'EXTRA'][level] ?? String(level) };
  }

  groupCommitStats(): GroupCommitStats {
    return { ...this.stats };
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('event store is closed');
  }

  private toEnvelope(row: EventRow): EventEnvelope {
    return this.upcasters.upcast(envelopeOf(row));
  }
}

export function versionMatches(expected: ExpectedVersion, current: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no-stream') return current === 0;
  return expected === current;
}
