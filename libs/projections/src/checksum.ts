import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { CHECKSUMMED_ENTITIES } from './schema/index.js';
import { quoteIdentifier } from './sql-identifier.js';

export interface ChecksumOptions {
  /**
   * Leave positions out: they belong to the backend (SQLite numbers events 1, 2, 3…; JetStream numbers
   * messages, sequence × 1024 + index). Rows are still taken in primary-key order, which follows the
   * log's order on every backend, so a log copied between backends has the same portable checksum.
   */
  portable?: boolean;
}

const POSITION_COLUMNS = new Set(['position']);

/** Rows per read of a checksum. */
const CHECKSUM_PAGE = 2000;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * sha256 over every read-model table: tables by name, columns by name, rows in primary-key order, each
 * row one JSON array per line. Independent of DDL column order and of how the file was built, so a live
 * read.db, a rebuilt one and a time-travel database compare equal exactly when their rows do.
 */
export function readModelChecksum(dataSource: DataSource, raw: Database.Database, options: ChecksumOptions = {}): string {
  const hash = createHash('sha256');
  const tables = CHECKSUMMED_ENTITIES.map((entity) => dataSource.getMetadata(entity)).sort((a, b) =>
    a.tableName < b.tableName ? -1 : a.tableName > b.tableName ? 1 : 0,
  );
  for (const meta of tables) {
    const columns = meta.columns
      .map((c) => c.databaseName)
      .filter((c) => !(options.portable && POSITION_COLUMNS.has(c)))
      .sort();
    const keyColumns = meta.primaryColumns.map((c) => c.databaseName);
    const key = keyColumns.map(quoteIdentifier).join(', ');
    hash.update(`${JSON.stringify([meta.tableName, columns])}\n`);
    const list = columns.map(quoteIdentifier).join(', ');
    // Rows JSON.stringify would write otherwise: a REAL (1e+21, where SQLite writes 1.0e+21) or an
    // integer beyond ±2^53 (JavaScript reads it rounded), found in the columns without TEXT affinity
    // (SQLite stores a number given to a TEXT column as text; text in a numeric column counts too).
    const unlike = meta.columns
      .filter((c) => c.type !== 'text' && columns.includes(c.databaseName))
      .map((c) => `typeof(${quoteIdentifier(c.databaseName)}) = 'real' OR ${quoteIdentifier(c.databaseName)} NOT BETWEEN ${-MAX_SAFE} AND ${MAX_SAFE}`);
    const keys = keyColumns.map(quoteIdentifier);
    const after = `(${key}) > (${keys.map(() => '?').join(', ')})`;
    // SQLite writes each row's JSON array itself (json_array): one string per row instead of one per
    // cell, ~2× faster than JSON.stringify over the cells. Its text equals JSON.stringify's for every
    // string (escapes included) and every integer JavaScript holds exactly; a row with another number
    // is written by JSON.stringify, as before. Pages in primary-key order (keyset: each starts after
    // the last key of the one before); the key columns ride at the end of each row.
    const page = (where: string) =>
      raw
        .prepare(
          `SELECT json_array(${list}) || char(10), ${unlike.length > 0 ? unlike.join(' OR ') : '0'}, ${keys.join(', ')}
           FROM ${quoteIdentifier(meta.tableName)} ${where} ORDER BY ${key} LIMIT ${CHECKSUM_PAGE}`,
        )
        .raw(true)
        .safeIntegers(true); // the keys go back as they came, even beyond 2^53
    const first = page('');
    const next = page(`WHERE ${after}`);
    const cells = raw.prepare(`SELECT ${list} FROM ${quoteIdentifier(meta.tableName)} WHERE (${key}) = (${keys.map(() => '?').join(', ')})`).raw(true);
    let rows = first.all() as unknown[][];
    while (rows.length > 0) {
      // One update per row: V8 hands a short flat string to the hash cheaply, where a page's text
      // concatenated first was flattened and re-encoded as a whole (~2× slower for the same bytes).
      for (const row of rows) hash.update(row[1] ? `${JSON.stringify(cells.get(...row.slice(2)))}\n` : (row[0] as string));
      if (rows.length < CHECKSUM_PAGE) break;
      rows = next.all(...rows[rows.length - 1].slice(2)) as unknown[][];
    }
  }
  return `sha256:${hash.digest('hex')}`;
}
