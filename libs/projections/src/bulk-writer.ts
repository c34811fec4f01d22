import type Database from 'better-sqlite3';
import { SqlReadModelWriter } from './sql-writer.js';

interface RepositoryRow {
  visibility: string;
  tagCount: number;
  createdAt: string;
  updatedAt: string;
  position: number;
}

interface TagRow {
  digest: string;
  at: string;
  by: string;
  position: number;
}

/** Everything `repositories` and `tags` hold for one repository name (tags may outlive their repository row). */
interface Entry {
  /** Its row of `repositories`; null: none. */
  row: RepositoryRow | null;
  tags: Map<string, TagRow>;
  /** Rows for this name may be in SQLite (loaded, or written by an earlier flush): delete them before writing. */
  stored: boolean;
  /** Changed since it was loaded or last written. */
  dirty: boolean;
}

/** Rows (repositories + tags) held in memory before the least recently used names are written out. */
export const DEFAULT_BULK_ROWS = 50_000;

/**
 * The writer of a build from position 0 (replay, a fresh read.db, time travel): `repositories` and
 * `tags` — state tables every ImageTagged updates twice (tag upsert, repository recount) — are kept in
 * memory, per repository name, and written once at finish(); the append-only tables go straight to
 * SQLite through SqlReadModelWriter. The same rows as SqlReadModelWriter in the end (a test compares
 * the checksums of both paths on random histories).
 *
 * Bounded: when more than `maxRows` rows are held, the least recently used names are written out
 * (inside the current batch's transaction) and dropped; a name seen again is read back from SQLite.
 * After a failed batch its memory is ahead of the rolled-back file: the build must be thrown away
 * (ReadDatabase refuses further batches).
 */
export class BulkReadModelWriter extends SqlReadModelWriter {
  /** Least recently used first (a Map keeps insertion order; a touched name is moved to the end). */
  private readonly entries = new Map<string, Entry>();
  private rows = 0;
  private readonly bulk;

  constructor(
    db: Database.Database,
    private readonly maxRows = DEFAULT_BULK_ROWS,
  ) {
    super(db);
    this.bulk = {
      getRepository: db.prepare<[string], { visibility: string; tag_count: number; created_at: string; updated_at: string; position: number }>(
        'SELECT visibility, tag_count, created_at, updated_at, position FROM repositories WHERE name = ?',
      ),
      getTags: db.prepare<[string], { tag: string; digest: string; updated_at: string; updated_by: string; position: number }>(
        'SELECT tag, digest, updated_at, updated_by, position FROM tags WHERE repository = ?',
      ),
      putRepository: db.prepare<[string, string, number, string, string, number]>(
        'INSERT OR REPLACE INTO repositories (name, visibility, tag_count, created_at, updated_at, position) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      deleteRepository: db.prepare<[string]>('DELETE FROM repositories WHERE name = ?'),
      deleteTags: db.prepare<[string]>('DELETE FROM tags WHERE repository = ?'),
      insertTag: db.prepare<[string, string, string, string, string, number]>(
        'INSERT INTO tags (repository, tag, digest, updated_at, updated_by, position) VALUES (?, ?, ?, ?, ?, ?)',
      ),
    };
  }

  /** The entry of a name, most recently used from now on; read from SQLite when not held. */
  private entry(name: string): Entry {
    let entry = this.entries.get(name);
    if (entry) {
      this.entries.delete(name);
      this.entries.set(name, entry);
      return entry;
    }
    const row = this.bulk.getRepository.get(name);
    const tags = new Map<string, TagRow>();
    for (const t of this.bulk.getTags.all(name)) tags.set(t.tag, { digest: t.digest, at: t.updated_at, by: t.updated_by, position: t.position });
    entry = {
      row: row ? { visibility: row.visibility, tagCount: row.tag_count, createdAt: row.created_at, updatedAt: row.updated_at, position: row.position } : null,
      tags,
      stored: row !== undefined || tags.size > 0,
      dirty: false,
    };
    this.entries.set(name, entry);
    this.rows += 1 + tags.size;
    return entry;
  }

  override createRepository(row: { name: string; visibility: string; at: string; position: number }): void {
    const entry = this.entry(row.name);
    // A re-created repository starts empty, whatever a lost delete might have left.
    this.rows -= entry.tags.size;
    entry.tags.clear();
    entry.row = { visibility: row.visibility, tagCount: 0, createdAt: row.at, updatedAt: row.at, position: row.position };
    entry.dirty = true;
    this.evictIfFull();
  }

  override setRepositoryVisibility(name: string, visibility: string, at: string, position: number): void {
    const entry = this.entry(name);
    if (entry.row) {
      entry.row.visibility = visibility;
      entry.row.updatedAt = at;
      entry.row.position = position;
      entry.dirty = true;
    }
    this.evictIfFull();
  }

  override touchRepository(name: string, at: string, position: number): void {
    const entry = this.entry(name);
    if (entry.row) {
      entry.row.tagCount = entry.tags.size;
      entry.row.updatedAt = at;
      entry.row.position = position;
      entry.dirty = true;
    }
    this.evictIfFull();
  }

  override deleteRepository(name: string): void {
    const entry = this.entry(name);
    this.rows -= entry.tags.size;
    entry.tags.clear();
    entry.row = null;
    entry.dirty = true;
    this.evictIfFull();
  }

  override setTag(row: { repository: string; tag: string; digest: string; at: string; by: string; position: number }): void {
    const entry = this.entry(row.repository);
    const tag = entry.tags.get(row.tag);
    if (tag) {
      tag.digest = row.digest;
      tag.at = row.at;
      tag.by = row.by;
      tag.position = row.position;
    } else {
      entry.tags.set(row.tag, { digest: row.digest, at: row.at, by: row.by, position: row.position });
      this.rows++;
    }
    entry.dirty = true;
    this.evictIfFull();
  }

  override removeTag(repository: string, tag: string): void {
    const entry = this.entry(repository);
    if (entry.tags.delete(tag)) {
      this.rows--;
      entry.dirty = true;
    }
    this.evictIfFull();
  }

  /** Writes what memory holds and forgets it; the file then has every row. Inside a transaction. */
  finish(): void {
    for (const [name, entry] of this.entries) this.write(name, entry);
    this.entries.clear();
    this.rows = 0;
  }

  /** Over the bound: the least recently used names go to SQLite until a quarter of the room is free. */
  private evictIfFull(): void {
    if (this.rows <= this.maxRows) return;
    for (const [name, entry] of this.entries) {
      if (this.rows <= this.maxRows * 0.75) break;
      this.write(name, entry);
      this.entries.delete(name);
      this.rows -= 1 + entry.tags.size;
    }
  }

  private write(name: string, entry: Entry): void {
    if (!entry.dirty) return;
    if (entry.stored) {
      this.bulk.deleteTags.run(name);
      if (!entry.row) this.bulk.deleteRepository.run(name);
    }
    const { row } = entry;
    if (row) this.bulk.putRepository.run(name, row.visibility, row.tagCount, row.createdAt, row.updatedAt, row.position);
    for (const [tag, t] of entry.tags) this.bulk.insertTag.run(name, tag, t.digest, t.at, t.by, t.position);
    entry.stored = true;
    entry.dirty = false;
  }
}
