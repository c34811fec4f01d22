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
