/**
 * strata.db: one table, the log. `position` is the rowid (the global order); (stream_id, version) is
 * unique, which is the last line of defence for optimistic concurrency; command_id is indexed for
 * idempotent retries. Rows are only ever inserted.
 */
export const EVENT_LOG_SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position        INTEGER PRIMARY KEY,
  event_id        TEXT    NOT NULL UNIQUE,
  stream_id       TEXT    NOT NULL,
  version         INTEGER NOT NULL,
  type            TEXT    NOT NULL,
  schema_version  INTEGER NOT NULL,
  occurred_at     TEXT    NOT NULL,
  actor           TEXT    NOT NULL,
  command_id      TEXT    NOT NULL,
  correlation_id  TEXT    NOT NULL,
  causation_id    TEXT,
  node_id         TEXT    NOT NULL,
  data            TEXT    NOT NULL,
  UNIQUE (stream_id, version)
);
CREATE INDEX IF NOT EXISTS events_by_command ON events (command_id);
`;

export interface EventRow {
  position: number;
  event_id: string;
  stream_id: string;
  version: number;
  type: string;
  schema_version: number;
  occurred_at: string;
  actor: string;
  command_id: string;
  correlation_id: string;
  causation_id: string | null;
  node_id: string;
  data: string;
}
