import { invalid } from '@strata/domain';

/**
 * Filters of the audit log (GET /events). Bounds are inclusive; `after` is the paging cursor
 * (exclusive). Times are ISO-8601 and compared with each event's occurredAt.
 */
export interface EventFilter {
  /** Exact stream id, e.g. `repository-library/nginx`. */
  stream?: string;
  /** Aggregate type: the stream id's prefix before the first '-' (repository, image, container…). */
  category?: string;
  /** Event types (any of). */
  types?: string[];
  actor?: string;
  correlationId?: string;
  sincePosition?: number;
  untilPosition?: number;
  sinceTime?: string;
  untilTime?: string;
  /** Only events after this position (the previous page's `next`). */
  after?: number;
  /** Page size, 1..10000 (default 100). */
  limit?: number;
}

/** The name the HTTP layer uses for the same filter. */
export type EventQuery = EventFilter;

export const DEFAULT_EVENTS_LIMIT = 100;
/** Exports (NDJSON, CSV) page through the log in big pages. */
export const MAX_EVENTS_LIMIT = 10_000;

export interface CompiledEventFilter {
  /** The WHERE clause, '' when there is no filter. */
  where: string;
  params: Array<string | number>;
  limit: number;
}

function position(value: number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalid('INVALID_FILTER', `${field} must be a non-negative integer position`, { field, value });
  }
  return value;
}

/** Normalized like the event store does, so string comparison is time comparison. */
function time(value: string | undefined, field: string): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw invalid('INVALID_FILTER', `${field} must be an ISO-8601 time`, { field, value });
  return new Date(ms).toISOString();
}

/** Validates a filter and turns it into SQL over audit_log (parameters only, never interpolated). */
export function compileEventFilter(filter: EventFilter): CompiledEventFilter {
  const clauses: string[] = [];
  const params: Array<string | number> = [];
  const add = (clause: string, ...values: Array<string | number>) => {
    clauses.push(clause);
    params.push(...values);
  };
  if (filter.stream !== undefined) add('stream_id = ?', filter.stream);
  if (filter.category !== undefined) add('category = ?', filter.category);
  if (filter.types !== undefined && filter.types.length > 0) {
    add(`type IN (${filter.types.map(() => '?').join(', ')})`, ...filter.types);
  }
  if (filter.actor !== undefined) add('actor = ?', filter.actor);
  if (filter.correlationId !== undefined) add('correlation_id = ?', filter.correlationId);
  const since = position(filter.sincePosition, 'sincePosition');
  if (since !== undefined) add('position >= ?', since);
  const until = position(filter.untilPosition, 'untilPosition');
  if (until !== undefined) add('position <= ?', until);
  const after = position(filter.after, 'after');
  if (after !== undefined) add('position > ?', after);
  const sinceTime = time(filter.sinceTime, 'sinceTime');
  if (sinceTime !== undefined) add('occurred_at >= ?', sinceTime);
  const untilTime = time(filter.untilTime, 'untilTime');
  if (untilTime !== undefined) add('occurred_at <= ?', untilTime);

  const limit = filter.limit ?? DEFAULT_EVENTS_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_EVENTS_LIMIT) {
    throw invalid('INVALID_FILTER', `limit must be an integer from 1 to ${MAX_EVENTS_LIMIT}`, { field: 'limit', value: limit });
  }
  return { where: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params, limit };
}
