import type { EventEnvelope, ProposedEvent } from '@strata/domain';

/**
 * What the writer expects of the stream before its append:
 * - `'no-stream'`: the stream has no events (its first append; how names are reserved);
 * - `'any'`: no check;
 * - a number n >= 0: the stream's last version is exactly n (0 is the same as 'no-stream').
 */
export type ExpectedVersion = 'no-stream' | 'any' | number;

export interface AppendOptions {
  /** Idempotency key: a second append with the same commandId appends nothing and returns the first result. */
  commandId: string;
  /**
   * The caller minted commandId for this append and has never appended with it (a command that came
   * without an Idempotency-Key, on its first attempt): no earlier append can carry it, so an adapter
   * whose idempotency lookup costs a round trip (JetStream) may skip it, and may also leave the id out of
   * its command index for a while (JetStream answers it from this process's memory and indexes it at the
   * next open or reconnect): only this process can ask for it meanwhile. Only a hint for the adapter, and
   * wrong only if the caller lies: set it for nothing but an id this process just made.
   */
  fresh?: boolean;
}

export interface AppendResult {
  streamId: string;
  /** The stream's version after the append (the version of its last event). */
  version: number;
  /** Position of the last appended event (the global order); what read-your-writes waits for. */
  position: number;
  events: EventEnvelope[];
  /** True when the commandId had been seen: nothing was appended, the first result is returned. */
  duplicate: boolean;
}

export interface ReadAllOptions {
  /** Read events with position > `after` (0: from the beginning). */
  after?: number;
  /** At most this many events per call (default 1000). */
  limit?: number;
  /** Stop at this position (inclusive). */
  until?: number;
}

export interface ReadStreamOptions {
  /** Read events with version > `afterVersion`. */
  afterVersion?: number;
  /** Only events at or below this global position (time travel). */
  untilPosition?: number;
}

export interface Subscription extends AsyncIterable<EventEnvelope> {
  close(): Promise<void>;
}

export interface EventStore {
  /**
   * Atomic for the 1..n events of one stream; ConcurrencyError if `expected` does not hold;
   * InvalidAppendError for malformed input. Resolves only once the events are durable.
   */
  append(streamId: string, expected: ExpectedVersion, events: ProposedEvent[], options: AppendOptions): Promise<AppendResult>;
  /** The stream's events in version order, upcast to their current schema. Empty if there is no such stream. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<EventEnvelope[]>;
  /** One page of the global log in position order, upcast. */
  readAll(options?: ReadAllOptions): Promise<EventEnvelope[]>;
  /** Every event after `after`, catching up from the log and then live, in position order, until closed. */
  subscribe(after: number): Subscription;
  /** The events a command appended, if that commandId was seen: lets a retried command answer before it decides. */
  readCommand(commandId: string): Promise<EventEnvelope[]>;
  /** Position of the last event in the log (0 when empty). */
  head(): Promise<number>;
  /** Last position whose event occurred at or before `time` (0 if none): for `?at=<time>`. */
  positionAt(time: string): Promise<number>;
  /** Which backend and whether it can take writes now (for /healthz and for refusing writes early). */
  health(): StoreHealth;
  /** Writes the appends already accepted, ends every subscription, then releases the storage. Idempotent. */
  close(): Promise<void>;
}

export interface StoreHealth {
  backend: 'sqlite' | 'jetstream';
  /** False while the backend cannot be reached (a NATS outage): reads of local projections still work. */
  connected: boolean;
  /** What the backend is connected to (a file, a server), or why it is not. */
  detail: string;
}

export class ConcurrencyError extends Error {
  readonly code = 'CONCURRENCY_CONFLICT';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(`stream ${streamId}: expected version ${String(expected)}, but it is at ${actual}`);
    this.name = 'ConcurrencyError';
  }
}

/** An append the store refuses before trying it (no events, no commandId, a malformed envelope): a client error. */
export class InvalidAppendError extends Error {
  readonly code = 'INVALID_APPEND';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAppendError';
  }
}

/** Thrown by a subscription whose start position the store no longer retains. */
export class PositionNotRetainedError extends Error {
  readonly code = 'RESYNC_REQUIRED';
  constructor(
    readonly requested: number,
    readonly firstRetained: number,
  ) {
    super(`position ${requested} is no longer retained (oldest is ${firstRetained}); resync from ${firstRetained - 1}`);
    this.name = 'PositionNotRetainedError';
  }
}

/**
 * The log cannot be reached (NATS is down or restarting). Nothing was appended by the call that got
 * this error, or, if the outage cut its acknowledgement, retrying with the same commandId is safe.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'EVENT_LOG_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export const EVENT_STORE = Symbol('EventStore');
