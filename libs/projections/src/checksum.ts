import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { CHECKSUMMED_ENTITIES } from './schema/index.js';

export interface ChecksumOptions {
  /**
   * Leave positions out: they belong to the backend (SQLite numbers events 1, 2, 3…; JetStream numbers
   * messages, sequence × 1024 + index). Rows are still taken in primary-key order, which follows the
   * log's order on every backend, so a log copied between backends has the same portable checksum.
   */
  portable?: boolean;
}

const POSITION_COLUMNS = new Set(['position']);

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

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
    const key = meta.primaryColumns.map((c) => quote(c.databaseName)).join(', ');
    hash.update(`${JSON.stringify([meta.tableName, columns])}\n`);
    const rows = raw
      .prepare(`SELECT ${columns.map(quote).join(', ')} FROM ${quote(meta.tableName)} ORDER BY ${key}`)
      .raw(true)
      .iterate();
    for (const row of rows) hash.update(`${JSON.stringify(row)}\n`);
  }
  return `sha256:${hash.digest('hex')}`;
}
