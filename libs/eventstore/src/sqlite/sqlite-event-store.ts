import Database from 'better-sqlite3';
import { UpcasterChain, type EventEnvelope, type ProposedEvent } from '@strata/domain';
import { checkAppendEncoded } from '../append-input.js';
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
import { EVENT_COLUMNS, EVENT_LOG_SCHEMA, envelopeOfValues, type EventValues } from './schema.js';

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
  /** Each event's data as stored (the JSON text checkAppendEncoded made). */
  json: string[];
  commandId: string;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

interface Written {
  /** The rows as a read returns them (EVENT_COLUMNS): read back for a duplicate, as inserted otherwise. */
  rows: EventValues[];
  duplicate: boolean;
}

interface PendingRead {
  run(): unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
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
  /** Emptied in place, never replaced: a wrapper made with Object.create(store) must share it. */
  private readonly reads: PendingRead[] = [];
  private closed = false;

  private readonly stmt: {
    insert: Database.Statement<[string, string, number, string, number, string, string, string, string, string | null, string, string]>;
    streamVersion: Database.Statement<[string], number | null>;
    byCommand: Database.Statement<[string], EventValues>;
    readStream: Database.Statement<[string, number, number], EventValues>;
    begin: Database.Statement<[]>;
    commit: Database.Statement<[]>;
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
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      streamVersion: this.db.prepare<[string], number | null>('SELECT MAX(version) FROM events WHERE stream_id = ?').pluck(),
      // Rows as arrays (EVENT_COLUMNS), like readAll: better-sqlite3 would build a 13-key object per row.
      byCommand: this.db
        .prepare<[string], EventValues>(`SELECT ${EVENT_COLUMNS} FROM events WHERE command_id = ? ORDER BY position`)
        .raw(true),
      readStream: this.db
        .prepare<[string, number, number], EventValues>(
          `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND version > ? AND position <= ? ORDER BY version`,
        )
        .raw(true),
      begin: this.db.prepare('BEGIN'),
      commit: this.db.prepare('COMMIT'),
      // Rows as arrays: the read of a replay or catch-up from 0 (pages of thousands of events).
      readAll: this.db
        .prepare<[number, number, number], EventValues>(`SELECT ${EVENT_COLUMNS} FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?`)
        .raw(true),
      head: this.db.prepare('SELECT MAX(position) AS p FROM events'),
      positionAt: this.db.prepare('SELECT MAX(position) AS p FROM events WHERE occurred_at <= ?'),
    };
    // Called inside the batch's transaction, db.transaction() runs as a savepoint: a failing append rolls
    // back alone. An append of one event needs none: its one INSERT is the only thing it writes, and a
    // statement that fails is undone by SQLite itself (the transaction goes on).
    const appendMany = this.db.transaction((p: PendingAppend) => this.write(p));
    this.writeBatch = this.db.transaction((batch: PendingAppend[]) =>
      batch.map((p): Outcome => {
        try {
          return { ok: p.events.length === 1 ? this.write(p) : appendMany(p) };
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
    let checked: { events: ProposedEvent[]; json: string[] };
    try {
      checked = checkAppendEncoded(streamId, expected, events, options);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, expected, events: checked.events, json: checked.json, commandId: options.commandId, resolve, reject });
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
    const current = this.stmt.streamVersion.get(p.streamId) ?? 0;
    if (!versionMatches(p.expected, current)) throw new ConcurrencyError(p.streamId, p.expected, current);
    const rows = new Array<EventValues>(p.events.length);
    for (let i = 0; i < p.events.length; i++) {
      const e = p.events[i];
      const version = current + i + 1;
      const { lastInsertRowid } = this.stmt.insert.run(
        e.eventId, p.streamId, version, e.type, e.schemaVersion, e.occurredAt, e.actor, p.commandId, e.correlationId, e.causationId, e.nodeId, p.json[i],
      );
      // The values just inserted, in EVENT_COLUMNS order: what a read of this row gives.
      rows[i] = [
        Number(lastInsertRowid), e.eventId, p.streamId, version, e.type, e.schemaVersion, e.occurredAt, e.actor, p.commandId, e.correlationId, e.causationId, e.nodeId, p.json[i],
      ];
    }
    return { rows, duplicate: false };
  }

  /** Built from the rows, so an append's answer is exactly what a later read (or a retry) returns. */
  private resultOf({ rows, duplicate }: Written): AppendResult {
    const events = this.envelopes(rows);
    const last = events[events.length - 1];
    return { streamId: last.streamId, version: last.version, position: last.position, events, duplicate };
  }

  readStream(streamId: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    const afterVersion = options.afterVersion ?? 0;
    const untilPosition = options.untilPosition ?? Number.MAX_SAFE_INTEGER;
    return this.read(() => this.envelopes(this.stmt.readStream.all(streamId, afterVersion, untilPosition)));
  }

  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    this.assertOpen();
    const limit = options.limit ?? 1000;
    // SQLite reads a negative LIMIT as "no limit": refuse it rather than return the whole log.
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be an integer >= 1, not ${limit}`);
    return this.envelopes(this.stmt.readAll.all(options.after ?? 0, options.until ?? Number.MAX_SAFE_INTEGER, limit));
  }

  subscribe(after: number): Subscription {
    return pollingSubscription(after, (cursor) => this.readAll({ after: cursor, limit: 500 }), this.live, this.pollIntervalMs);
  }

  readCommand(commandId: string): Promise<EventEnvelope[]> {
    return this.read(() => this.envelopes(this.stmt.byCommand.all(commandId)));
  }

  /**
   * Runs a small read (readStream, readCommand) a little later in this turn, with the others asked for
   * in the same turn: several go into one read transaction (BEGIN … COMMIT), which costs less than a
   * transaction per SELECT (taking WAL read locks, ~5 µs each). Each read sees the log as of the end of
   * this turn's synchronous work, which is still between its call and its answer; no append is written
   * in between (appends are written on a later turn of the event loop, by flush).
   */
  private read<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('event store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.reads.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (this.reads.length === 1) queueMicrotask(() => this.runReads());
    });
  }

  private runReads(): void {
    if (this.reads.length === 0) return;
    const reads = this.reads.splice(0);
    // One read alone runs in its own implicit transaction: BEGIN and COMMIT would only add to it.
    const together = reads.length > 1 && !this.db.inTransaction;
    try {
      if (together) this.stmt.begin.run();
    } catch (error) {
      for (const r of reads) r.reject(error);
      return;
    }
    try {
      for (const r of reads) {
        try {
          r.resolve(r.run());
        } catch (error) {
          r.reject(error);
        }
      }
    } finally {
      // A read-only transaction: COMMIT only lets go of the read snapshot.
      if (together && this.db.inTransaction) this.stmt.commit.run();
    }
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
    this.runReads(); // reads asked for before close are answered, not failed
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

  /** Rows (EVENT_COLUMNS, as arrays) as the envelopes every read answers with, upcast. */
  private envelopes(rows: EventValues[]): EventEnvelope[] {
    const events = new Array<EventEnvelope>(rows.length);
    for (let i = 0; i < rows.length; i++) events[i] = this.upcasters.upcast(envelopeOfValues(rows[i]));
    return events;
  }
}

export function versionMatches(expected: ExpectedVersion, current: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no-stream') return current === 0;
  return expected === current;
}
