/**
 * Emmett 0.38.5's sqliteConnection fires `PRAGMA journal_mode = WAL` without awaiting it, on every
 * connection it opens (getSQLiteEventStore opens one per call on a file database). node-sqlite3 runs
 * a connection's statements in parallel mode unless told otherwise, so that PRAGMA can still be
 * stepping when the append's COMMIT runs: `SQLITE_BUSY: cannot commit transaction - SQL statements in
 * progress`, intermittently, even with one writer (reproduced: 3 of 8 runs of 100 sequential appends
 * failed; 0 of 8 with this shim). The shim puts the connection in serialized mode right before that
 * PRAGMA (node-sqlite3's Database#serialize()), so Emmett's statements run in the order it issued them.
 * It changes nothing else: one connection per call, the same SQL. Call before the first append.
 */
import sqlite3 from 'sqlite3';

let installed = false;
export function serializeEmmettConnections(): void {
  if (installed) return;
  installed = true;
  const proto = sqlite3.Database.prototype as unknown as { run: (this: sqlite3.Database, sql: string, ...rest: unknown[]) => unknown };
  const run = proto.run;
  proto.run = function (this: sqlite3.Database, sql: string, ...rest: unknown[]) {
    if (typeof sql === 'string' && sql.startsWith('PRAGMA journal_mode')) this.serialize();
    return run.call(this, sql, ...rest);
  };
}
