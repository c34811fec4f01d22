import type Database from 'better-sqlite3';
import type { EventEnvelope } from '@strata/domain';
import { DataSource } from 'typeorm';
import { readModelChecksum, readModelChecksumAside, type ChecksumOptions } from './checksum.js';
import type { Projector } from './projectors/projector.js';
import { READ_MODEL_ENTITIES } from './schema/index.js';
import { BulkReadModelWriter } from './bulk-writer.js';
import { quoteIdentifier } from './sql-identifier.js';
import { SqlReadModelWriter } from './sql-writer.js';

/**
 * - `live`: read.db itself. WAL, synchronous=NORMAL: a power cut may lose the last batches, never
 *   split rows from their checkpoint, and lost batches are simply applied again.
 * - `scratch`: a rebuild in progress or a time-travel database. No WAL, no fsync: if it dies it is
 *   thrown away (a rebuild is fsynced once before it is swapped in).
 */
export type ReadDatabaseMode = 'live' | 'scratch';

export interface ReadDatabaseOptions {
  /** A file path, or ':memory:'. */
  path: string;
  projectors: readonly Projector[];
  mode: ReadDatabaseMode;
  /**
   * A build from position 0 (replay, time travel, a fresh read.db), a bulk load ended by finishLoad():
   * the secondary indexes are dropped at open, while every table is still empty, and made again after
   * the load — one sort each instead of a random B-tree insert per row (primary keys and UNIQUE
   * constraints stay); the state tables `repositories` and `tags` are kept in memory meanwhile
   * (BulkReadModelWriter) and written once. Ignored when a projector has already applied something.
   */
  deferIndexes?: boolean;
  /** A bulk load's bound on the rows of `repositories` + `tags` held in memory (default DEFAULT_BULK_ROWS). */
  bulkRows?: number;
}

/** Page size of a scratch file made by a bulk load: fewer, bigger pages make its loads and index sorts ~2x faster. */
const BULK_PAGE_SIZE = 16384;

/**
 * A table's UNIQUE constraint (not its primary key) whose index a bulk load makes after the load: the
 * table is made without the constraint while empty; after the load the same index is made by a
 * CREATE UNIQUE INDEX (one sort) and given back to the constraint (see restoreUniqueConstraints).
 */
interface DeferredUnique {
  table: string;
  /** The table's CREATE TABLE as SQLite keeps it, constraint included. */
  tableSql: string;
  /** SQLite's own index of the constraint (`sqlite_autoindex_<table>_<n>`). */
  autoindex: string;
  columns: string[];
}

/** A TypeORM table constraint `, CONSTRAINT "UQ_…" UNIQUE ("a", "b")`. */
const UNIQUE_CLAUSE = /, CONSTRAINT "(?:[^"]|"")*" UNIQUE \(([^)]*)\)/g;

export interface ProjectorPosition {
  name: string;
  position: number;
}

/**
 * One read-model database: the TypeORM DataSource that owns its schema, the raw better-sqlite3 handle
 * for the hot path, and the projectors' checkpoints. Applies batches of events atomically.
 */
export class ReadDatabase {
  /** Committed checkpoint of each projector; only changed after a commit. */
  private readonly positions = new Map<string, number>();
  private readonly applyInTransaction: (events: EventEnvelope[]) => void;
  /** The CREATE INDEX statements dropped at open (deferIndexes), until finishLoad() runs them. */
  private deferredIndexes: string[] = [];
  private writer: SqlReadModelWriter;
  /** The writer of a bulk load, until finishLoad(). */
  private bulk: BulkReadModelWriter | null = null;
  /** A batch of a bulk load failed: its in-memory tables are ahead of the file, which is good for nothing now. */
  private bulkFailed = false;
  /** UNIQUE constraints dropped at open (deferIndexes), until finishLoad() makes their indexes. */
  private deferredUniques: DeferredUnique[] = [];

  static async open(options: ReadDatabaseOptions): Promise<ReadDatabase> {
    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: options.path,
      entities: READ_MODEL_ENTITIES,
      synchronize: true,
      logging: false,
      prepareDatabase: (db: Database.Database) => {
        if (options.mode === 'live') {
          db.pragma('journal_mode = WAL');
          db.pragma('synchronous = NORMAL');
        } else {
          // Only takes effect on a new, empty file (before TypeORM makes the tables); ignored otherwise.
          if (options.deferIndexes) db.pragma(`page_size = ${BULK_PAGE_SIZE}`);
          db.pragma('journal_mode = MEMORY');
          db.pragma('synchronous = OFF');
        }
      },
    });
    await dataSource.initialize();
    try {
      const db = new ReadDatabase(dataSource, options.projectors, options.path);
      if (options.deferIndexes && db.isEmpty()) db.startBulkLoad(options.bulkRows);
      return db;
    } catch (error) {
      await dataSource.destroy();
      throw error;
    }
  }

  readonly raw: Database.Database;

  private constructor(
    readonly dataSource: DataSource,
    private readonly projectors: readonly Projector[],
    private readonly path: string,
  ) {
    // The raw handle under TypeORM: prepared statements, synchronous, no per-row ORM overhead.
    this.raw = (dataSource.driver as unknown as { databaseConnection: Database.Database }).databaseConnection;
    this.writer = new SqlReadModelWriter(this.raw);
    const saveCheckpoint = this.raw.prepare(
      `INSERT INTO projection_checkpoints (name, position, version) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET position = excluded.position, version = excluded.version`,
    );
    this.loadCheckpoints(saveCheckpoint);

    this.applyInTransaction = this.raw.transaction((events: EventEnvelope[]) => {
      let previous = 0;
      const writer = this.writer;
      for (const event of events) {
        // A gap backwards would apply an event twice: refuse the whole batch instead.
        if (event.position <= previous) throw new Error(`events out of order at position ${event.position}`);
        previous = event.position;
        for (const projector of this.projectors) {
          // Projectors may stand at different positions (one was just reset): each sees each event once.
          if (event.position > this.positions.get(projector.name)!) projector.apply(event, writer);
        }
      }
      for (const projector of this.projectors) {
        if (previous > this.positions.get(projector.name)!) saveCheckpoint.run(projector.name, previous, projector.version);
      }
    });
  }

  /** Reads the checkpoints; a projector that is new or whose version changed starts over from 0. */
  private loadCheckpoints(saveCheckpoint: Database.Statement): void {
    const stored = new Map(
      (this.raw.prepare('SELECT name, position, version FROM projection_checkpoints').all() as Array<{
        name: string;
        position: number;
        version: number;
      }>).map((row) => [row.name, row]),
    );
    this.raw.transaction(() => {
      for (const projector of this.projectors) {
        const row = stored.get(projector.name);
        if (row && row.version === projector.version) {
          this.positions.set(projector.name, row.position);
          continue;
        }
        for (const table of projector.tables) this.raw.prepare(`DELETE FROM "${table}"`).run();
        saveCheckpoint.run(projector.name, 0, projector.version);
        this.positions.set(projector.name, 0);
      }
    })();
  }

  /** Drops the indexes the schema declares (not those of primary keys and UNIQUE constraints: their `sql` is NULL), switches to the bulk writer. */
  private startBulkLoad(bulkRows?: number): void {
    const indexes = this.raw
      .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
      .all() as Array<{ name: string; sql: string }>;
    this.raw.transaction(() => {
      for (const index of indexes) this.raw.prepare(`DROP INDEX ${quoteIdentifier(index.name)}`).run();
    })();
    this.deferredIndexes = indexes.map((index) => index.sql);
    this.deferUniqueConstraints();
    this.bulk = new BulkReadModelWriter(this.raw, bulkRows);
    this.writer = this.bulk;
  }

  /**
   * Ends a bulk load (deferIndexes): writes the tables held in memory, makes the indexes deferred at
   * open again with their very statements (the schema ends up as if they had never been dropped), and
   * goes on with the per-event writer. A no-op otherwise; run it before the file is read or swapped in.
   */
  finishLoad(): void {
    if (this.bulkFailed) throw new Error('a batch of this bulk load failed: the build cannot be finished');
    const bulk = this.bulk;
    if (!bulk && this.deferredIndexes.length === 0) return;
    this.raw.transaction(() => {
      bulk?.finish();
      for (const sql of this.deferredIndexes) this.raw.prepare(sql).run();
      // A duplicate the constraint would have refused during the load fails the build here.
      for (const u of this.deferredUniques) {
        this.raw.prepare(`CREATE UNIQUE INDEX ${quoteIdentifier(`bulk_unique_${u.autoindex}`)} ON ${quoteIdentifier(u.table)} (${u.columns.map(quoteIdentifier).join(', ')})`).run();
      }
    })();
    this.restoreUniqueConstraints();
    this.bulk = null;
    this.writer = new SqlReadModelWriter(this.raw);
    this.deferredIndexes = [];
  }

  /**
   * While every table is empty: each table whose one automatic index is a UNIQUE constraint's (the
   * audit log's `event_id`: a random B-tree insert per event, ~4 µs) is made again without it. Tables
   * whose SQL does not read as expected keep their constraint.
   */
  private deferUniqueConstraints(): void {
    const autoindexes = this.raw
      .prepare("SELECT name, tbl_name AS \"table\" FROM sqlite_master WHERE type = 'index' AND sql IS NULL ORDER BY name")
      .all() as Array<{ name: string; table: string }>;
    const deferred: Array<DeferredUnique & { strippedSql: string }> = [];
    for (const table of new Set(autoindexes.map((a) => a.table))) {
      const own = autoindexes.filter((a) => a.table === table);
      const list = this.raw.pragma(`index_list(${quoteIdentifier(table)})`) as Array<{ name: string; origin: string }>;
      if (own.length !== 1 || list.find((i) => i.name === own[0].name)?.origin !== 'u') continue;
      const columns = (this.raw.pragma(`index_info(${quoteIdentifier(own[0].name)})`) as Array<{ name: string }>).map((c) => c.name);
      const { sql: tableSql } = this.raw.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as { sql: string };
      const clauses = [...tableSql.matchAll(UNIQUE_CLAUSE)];
      if (clauses.length !== 1 || clauses[0][1] !== columns.map(quoteIdentifier).join(', ')) continue;
      deferred.push({ table, tableSql, autoindex: own[0].name, columns, strippedSql: tableSql.replace(UNIQUE_CLAUSE, '') });
    }
    if (deferred.length === 0) return;
    this.raw.transaction(() => {
      for (const d of deferred) {
        this.raw.prepare(`DROP TABLE ${quoteIdentifier(d.table)}`).run();
        this.raw.prepare(d.strippedSql).run();
      }
    })();
    this.deferredUniques = deferred.map(({ strippedSql: _stripped, ...d }) => d);
  }

  /**
   * Gives each deferred UNIQUE constraint its index back: the table's CREATE TABLE is written back as it
   * was and the index made after the load (the same B-tree: the constraint's key, then the rowid) takes
   * the automatic index's name — the schema SQLite keeps, exactly as if the constraint had never been
   * dropped. Edits sqlite_schema (writable_schema, which better-sqlite3's defensive mode allows only in
   * unsafe mode), bumps the schema version, reloads the schema and checks what it reads back.
   */
  private restoreUniqueConstraints(): void {
    if (this.deferredUniques.length === 0) return;
    const raw = this.raw;
    const version = raw.pragma('schema_version', { simple: true }) as number;
    raw.unsafeMode(true);
    try {
      raw.pragma('writable_schema = ON');
      raw.transaction(() => {
        for (const u of this.deferredUniques) {
          raw.prepare("UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?").run(u.tableSql, u.table);
          raw.prepare("UPDATE sqlite_schema SET name = ?, sql = NULL WHERE type = 'index' AND name = ?").run(u.autoindex, `bulk_unique_${u.autoindex}`);
        }
        raw.pragma(`schema_version = ${version + 1}`);
      })();
    } finally {
      raw.pragma('writable_schema = RESET');
      raw.unsafeMode(false);
    }
    for (const u of this.deferredUniques) {
      const list = raw.pragma(`index_list(${quoteIdentifier(u.table)})`) as Array<{ name: string; origin: string; unique: number }>;
      const index = list.find((i) => i.name === u.autoindex);
      if (!index || index.origin !== 'u' || index.unique !== 1 || list.some((i) => i.name.startsWith('bulk_unique_'))) {
        throw new Error(`the UNIQUE constraint of ${u.table} did not come back after the load`);
      }
    }
    this.deferredUniques = [];
  }

  /**
   * Applies events (ascending positions) to every projector that has not seen them, and advances the
   * checkpoints to the last one — in one transaction: all of it or nothing. Events no projector knows
   * still advance the checkpoints.
   */
  applyBatch(events: EventEnvelope[]): void {
    if (events.length === 0) return;
    if (this.bulkFailed) throw new Error('a batch of this bulk load failed: the build cannot go on');
    try {
      this.applyInTransaction(events);
    } catch (error) {
      if (this.bulk) this.bulkFailed = true;
      throw error;
    }
    const last = events[events.length - 1].position;
    for (const [name, position] of this.positions) if (last > position) this.positions.set(name, last);
  }

  /** No projector has applied anything yet (its tables are empty: rows and checkpoints move together). */
  isEmpty(): boolean {
    for (const position of this.positions.values()) if (position > 0) return false;
    return true;
  }

  /** The position every projector has reached. */
  position(): number {
    let min = Number.MAX_SAFE_INTEGER;
    for (const position of this.positions.values()) min = Math.min(min, position);
    return this.positions.size === 0 ? 0 : min;
  }

  projectorPositions(): ProjectorPosition[] {
    return this.projectors.map((p) => ({ name: p.name, position: this.positions.get(p.name)! }));
  }

  checksum(options: ChecksumOptions = {}): string {
    return readModelChecksum(this.dataSource, this.raw, options);
  }

  /**
   * The same checksum, computed on a worker thread over its own read-only connection to the file, so
   * this thread can do something else meanwhile (replay() hashes two databases at once). Nothing may
   * write to this database until it settles. An in-memory database is hashed here.
   */
  checksumAside(options: ChecksumOptions = {}): Promise<string> {
    if (this.path === ':memory:' || this.path === '') return Promise.resolve(this.checksum(options));
    return readModelChecksumAside(this.dataSource, this.path, options);
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
