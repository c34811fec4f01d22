import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHECKSUMMED_ENTITIES, PROJECTORS, ReadDatabase, readModelChecksum, readModelChecksumAside } from '@strata/projections';

/** The checksum's definition, written the plain way: every row through JSON.stringify, one per line. */
function referenceChecksum(dataSource: DataSource, raw: Database.Database, portable: boolean): string {
  const hash = createHash('sha256');
  const tables = CHECKSUMMED_ENTITIES.map((entity) => dataSource.getMetadata(entity)).sort((a, b) => (a.tableName < b.tableName ? -1 : 1));
  for (const meta of tables) {
    const columns = meta.columns.map((c) => c.databaseName).filter((c) => !(portable && c === 'position')).sort();
    hash.update(`${JSON.stringify([meta.tableName, columns])}\n`);
    const key = meta.primaryColumns.map((c) => `"${c.databaseName}"`).join(', ');
    const rows = raw.prepare(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${meta.tableName}" ORDER BY ${key}`).raw(true).iterate();
    for (const row of rows) hash.update(`${JSON.stringify(row)}\n`);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Every ASCII character, escapes JSON knows and some it does not, astral and lone surrogates. */
const AWKWARD = [...Array.from({ length: 128 }, (_, c) => String.fromCharCode(c)), '\u2028\u2029', 'é', '😀', '\ud800', 'x\udfffy', '\u0085', '\ufeff', '\uffff', 'a"b\\c/d'];

/** More rows than one page, a composite key whose pages split inside one position, awkward strings, REALs, integers near and beyond 2^53. */
function fill(db: ReadDatabase): void {
  const audit = db.raw.prepare(
    `INSERT INTO audit_log (position, event_id, stream_id, category, type, schema_version, version, occurred_at, actor, command_id,
       correlation_id, causation_id, node_id, data) VALUES (?, ?, 'repository-x', 'repository', 'T', 1, ?, 't', ?, 'c', 'k', ?, 'n', ?)`,
  );
  const move = db.raw.prepare(
    "INSERT INTO tag_history (position, repository, tag, from_digest, to_digest, at, actor, event_type) VALUES (?, ?, ?, NULL, ?, 't', 'a', 'ImageTagged')",
  );
  const change = db.raw.prepare(
    "INSERT INTO container_file_changes (position, idx, container_id, path, kind, type, size, digest, mode, source, at, actor) VALUES (?, ?, 'c', ?, 'A', 'f', ?, NULL, ?, 'commit', 't', 'a')",
  );
  db.raw.transaction(() => {
    // More rows than one page; a composite key whose pages split inside one position.
    for (let i = 1; i <= 4500; i++) {
      const s = AWKWARD[i % AWKWARD.length];
      audit.run(i, `e${i}`, i, s, i % 3 ? null : s, JSON.stringify({ s, i }));
      move.run(Math.ceil(i / 3), `repo-${s}`, `tag-${i % 3}`, `sha256:${i}`);
    }
    audit.run(2 ** 60, 'e-far', 1, 'far', null, '{}'); // a key JavaScript reads rounded
    // REALs (JSON.stringify and SQLite write some of them differently) and integers near 2^53.
    [1e21, 0.1 + 0.2, 1e-7, 1.5, -0, 2 ** 53, 2 ** 60, -(2 ** 53)].forEach((size, i) => change.run(1, i, `/f${i}`, size, i % 2 ? 2.5 : 420));
  })();
}

describe('readModelChecksum', () => {
  let db: ReadDatabase;
  beforeEach(async () => {
    db = await ReadDatabase.open({ path: ':memory:', projectors: PROJECTORS, mode: 'scratch' });
  });
  afterEach(async () => {
    await db.close();
  });

  const both = () => [false, true].map((portable) => [readModelChecksum(db.dataSource, db.raw, { portable }), referenceChecksum(db.dataSource, db.raw, portable)]);

  it('is the JSON.stringify of every row, in key order, over several pages and awkward values', () => {
    const empty = both();
    for (const [fast, reference] of empty) expect(fast).toBe(reference);

    fill(db);
    const filled = both();
    for (const [fast, reference] of filled) expect(fast).toBe(reference);
    expect(filled[0][0]).not.toBe(empty[0][0]);
    expect(filled[1][0]).not.toBe(filled[0][0]);
  });

  it('computed aside, on a worker thread over the file, is the same', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-checksum-'));
    const file = await ReadDatabase.open({ path: join(dir, 'read.db'), projectors: PROJECTORS, mode: 'scratch' });
    try {
      for (const when of ['empty', 'filled']) {
        if (when === 'filled') fill(file);
        for (const portable of [false, true]) {
          expect(await file.checksumAside({ portable }), `${when}, portable ${portable}`).toBe(referenceChecksum(file.dataSource, file.raw, portable));
          expect(await readModelChecksumAside(file.dataSource, join(dir, 'read.db'), { portable })).toBe(file.checksum({ portable }));
        }
      }
      await expect(readModelChecksumAside(file.dataSource, join(dir, 'missing.db'))).rejects.toThrow(/missing\.db/);
      // An in-memory database has no file for a worker: hashed on this thread.
      fill(db);
      expect(await db.checksumAside()).toBe(referenceChecksum(db.dataSource, db.raw, false));
    } finally {
      await file.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
