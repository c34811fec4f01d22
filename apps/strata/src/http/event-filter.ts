import type { EventView } from '@strata/api';
import type { EventQuery } from '@strata/projections';
import { ApiError } from './api-error.js';
import { parsePositionOrTime } from '../projections/read-models.service.js';

export type EventsQueryParams = Record<string, string | string[] | undefined>;

const list = (v: string | string[] | undefined): string[] | undefined => {
  if (v === undefined) return undefined;
  const items = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  return items.length ? items : undefined;
};
const one = (v: string | string[] | undefined, name: string): string | undefined => {
  if (Array.isArray(v)) throw new ApiError(400, 'VALIDATION_FAILED', `${name} may be given once`);
  return v;
};

/** `GET /events` filters, like `docker events --since --until --filter`, over the whole log. */
export function parseEventQuery(q: EventsQueryParams): EventQuery {
  const query: EventQuery = {};
  const stream = one(q.stream, 'stream');
  if (stream) query.stream = stream;
  const category = one(q.category, 'category');
  if (category) query.category = category;
  const types = list(q.type);
  if (types) query.types = types;
  const actor = one(q.actor, 'actor');
  if (actor) query.actor = actor;
  const correlationId = one(q.correlationId, 'correlationId');
  if (correlationId) query.correlationId = correlationId;
  const since = one(q.since, 'since');
  if (since) {
    const s = parsePositionOrTime(since, 'since');
    if ('position' in s) query.sincePosition = s.position;
    else query.sinceTime = s.time;
  }
  const until = one(q.until, 'until');
  if (until) {
    const u = parsePositionOrTime(until, 'until');
    if ('position' in u) query.untilPosition = u.position;
    else query.untilTime = u.time;
  }
  const after = one(q.after, 'after');
  if (after !== undefined) {
    if (!/^\d+$/.test(after)) throw new ApiError(400, 'INVALID_POSITION', 'after must be a position');
    query.after = Number(after);
  }
  const limit = one(q.limit, 'limit');
  if (limit !== undefined) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new ApiError(400, 'VALIDATION_FAILED', 'limit must be 1-10000');
    query.limit = n;
  }
  return query;
}

/** The same filter applied to a live event (the SSE stream reads the log, not the audit table). */
export function matchesEvent(query: EventQuery, e: EventView): boolean {
  if (query.stream && e.streamId !== query.stream) return false;
  if (query.category && !e.streamId.startsWith(`${query.category}-`)) return false;
  if (query.types && !query.types.includes(e.type)) return false;
  if (query.actor && e.actor !== query.actor) return false;
  if (query.correlationId && e.correlationId !== query.correlationId) return false;
  if (query.untilPosition !== undefined && e.position > query.untilPosition) return false;
  if (query.sinceTime && e.occurredAt < query.sinceTime) return false;
  if (query.untilTime && e.occurredAt > query.untilTime) return false;
  return true;
}

const CSV_COLUMNS = ['position', 'occurredAt', 'type', 'schemaVersion', 'streamId', 'version', 'actor', 'commandId',
  'correlationId', 'causationId', 'nodeId', 'eventId', 'data'] as const;

const csvCell = (value: unknown): string => {
  const s = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};

export const csvHeader = () => `${CSV_COLUMNS.join(',')}\r\n`;
export const csvRow = (e: EventView) => `${CSV_COLUMNS.map((c) => csvCell(e[c])).join(',')}\r\n`;
