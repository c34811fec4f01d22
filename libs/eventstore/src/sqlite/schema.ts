import type { EventEnvelope, ProposedEvent } from '@strata/domain';

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

/** The row of one event about to be inserted (everything but the position, which SQLite assigns). */
export function rowOf(streamId: string, version: number, commandId: string, e: ProposedEvent): Omit<EventRow, 'position'> {
  return {
    event_id: e.eventId,
    stream_id: streamId,
    version,
    type: e.type,
    schema_version: e.schemaVersion,
    occurred_at: e.occurredAt,
    actor: e.actor,
    command_id: commandId,
    correlation_id: e.correlationId,
    causation_id: e.causationId,
    node_id: e.nodeId,
    data: JSON.stringify(e.data),
  };
}

/**
 * The columns of `events` in EventRow's order, for reads that take rows as arrays (`raw()`): better-sqlite3
 * builds a 13-key object per row otherwise, which costs more than the SELECT itself (~2 µs per row).
 */
export const EVENT_COLUMNS =
  'position, event_id, stream_id, version, type, schema_version, occurred_at, actor, command_id, correlation_id, causation_id, node_id, data';

/** One row of `SELECT ${EVENT_COLUMNS}` read with `raw()`. */
export type EventValues = [
  position: number,
  event_id: string,
  stream_id: string,
  version: number,
  type: string,
  schema_version: number,
  occurred_at: string,
  actor: string,
  command_id: string,
  correlation_id: string,
  causation_id: string | null,
  node_id: string,
  data: string,
];

/** envelopeOf for a row read as an array (EVENT_COLUMNS): the same envelope. */
export function envelopeOfValues(row: EventValues): EventEnvelope {
  return {
    eventId: row[1],
    type: row[4],
    schemaVersion: row[5],
    streamId: row[2],
    version: row[3],
    position: row[0],
    occurredAt: row[6],
    actor: row[7],
    commandId: row[8],
    correlationId: row[9],
    causationId: row[10],
    nodeId: row[11],
    data: JSON.parse(row[12]) as unknown,
  };
}

/** The envelope as stored (before upcasting). */
export function envelopeOf(row: EventRow): EventEnvelope {
  return {
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
    data: JSON.parse(row.data) as unknown,
  };
}
