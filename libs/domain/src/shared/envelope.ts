/**
 * The event envelope: what every event in the log carries, whatever backend stores it.
 * `position` is the global order (sqlite rowid, JetStream stream sequence); `version` is the
 * event's 1-based index within its stream.
 */
export interface EventEnvelope<T = unknown> {
  eventId: string;
  type: string;
  schemaVersion: number;
  streamId: string;
  version: number;
  position: number;
  occurredAt: string;
  actor: string;
  commandId: string;
  correlationId: string;
  causationId: string | null;
  nodeId: string;
  data: T;
}

/** An event as a decider emits it: type and payload only. The envelope is filled in by the app. */
export interface DomainEvent<T = unknown> {
  type: string;
  schemaVersion: number;
  data: T;
}

/** An event ready to append: everything but what the store assigns (stream, version, position, command). */
export type ProposedEvent<T = unknown> = Omit<EventEnvelope<T>, 'streamId' | 'version' | 'position' | 'commandId'>;

/** Who, when and why: the metadata every command carries from the edge (HTTP, NATS, CLI, saga). */
export interface CommandMeta {
  commandId: string;
  actor: string;
  correlationId: string;
  causationId: string | null;
  occurredAt: string;
  nodeId: string;
}
