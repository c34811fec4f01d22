import type { ProposedEvent } from '@strata/domain';
import { InvalidAppendError, type AppendOptions, type ExpectedVersion } from './port.js';

/**
 * Checks an append before any adapter touches its storage, the same way for every adapter, and
 * returns the events as they will be stored. `occurredAt` is stored as a canonical UTC instant
 * (`toISOString()`): time queries compare it as text, so every row must use the same format.
 */
export function checkAppend(
  streamId: unknown,
  expected: unknown,
  events: unknown,
  options: Partial<AppendOptions> | undefined,
): ProposedEvent[] {
  return checkAppendEncoded(streamId, expected, events, options).events;
}

/**
 * checkAppend, and each event's data as the JSON text the check made of it (`json[i]` for
 * `events[i]`): for an adapter that stores that text, so the data is serialised once per append.
 */
export function checkAppendEncoded(
  streamId: unknown,
  expected: unknown,
  events: unknown,
  options: Partial<AppendOptions> | undefined,
): { events: ProposedEvent[]; json: string[] } {
  if (typeof streamId !== 'string' || streamId.length === 0) throw new InvalidAppendError('append needs a streamId');
  if (!isExpectedVersion(expected)) {
    throw new InvalidAppendError(`expected version must be 'no-stream', 'any' or an integer >= 0, not ${String(expected)}`);
  }
  if (!Array.isArray(events) || events.length === 0) throw new InvalidAppendError('append needs at least one event');
  if (typeof options?.commandId !== 'string' || options.commandId.length === 0) {
    throw new InvalidAppendError('append needs a commandId');
  }
  const json: string[] = [];
  return { events: events.map((event, i) => checkEvent(event as Partial<ProposedEvent> | null, i, json)), json };
}

export function isExpectedVersion(value: unknown): value is ExpectedVersion {
  return value === 'no-stream' || value === 'any' || (Number.isSafeInteger(value) && (value as number) >= 0);
}

const REQUIRED_STRINGS = ['eventId', 'type', 'actor', 'correlationId', 'nodeId'] as const;

function bad(i: number, what: string): InvalidAppendError {
  return new InvalidAppendError(`event ${i}: ${what}`);
}

/** Checks one event; pushes its data's JSON text onto `json`. */
function checkEvent(e: Partial<ProposedEvent> | null, i: number, json: string[]): ProposedEvent {
  if (typeof e !== 'object' || e === null) throw bad(i, 'is not an object');
  for (const field of REQUIRED_STRINGS) {
    if (typeof e[field] !== 'string' || e[field].length === 0) throw bad(i, `${field} must be a non-empty string`);
  }
  if (!Number.isSafeInteger(e.schemaVersion) || (e.schemaVersion as number) < 1) throw bad(i, 'schemaVersion must be an integer >= 1');
  if (e.causationId !== null && (typeof e.causationId !== 'string' || e.causationId.length === 0)) {
    throw bad(i, 'causationId must be null or a non-empty string');
  }
  const time = typeof e.occurredAt === 'string' ? new Date(e.occurredAt) : new Date(NaN);
  if (Number.isNaN(time.getTime())) throw bad(i, `occurredAt is not a time: ${String(e.occurredAt)}`);
  let text: string | undefined;
  try {
    text = JSON.stringify(e.data);
  } catch (error) {
    throw bad(i, `data is not JSON-serialisable (${(error as Error).message})`);
  }
  if (text === undefined) throw bad(i, 'data is missing');
  json.push(text);
  return {
    eventId: e.eventId as string,
    type: e.type as string,
    schemaVersion: e.schemaVersion as number,
    occurredAt: time.toISOString(),
    actor: e.actor as string,
    correlationId: e.correlationId as string,
    causationId: e.causationId,
    nodeId: e.nodeId as string,
    data: e.data,
  };
}
