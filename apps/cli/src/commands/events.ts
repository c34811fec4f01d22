/**
 * `strata events`: the audit log, like `docker events` but over the whole history. Pages through
 * GET /events; with --follow, continues live on GET /events/stream from where the history ended.
 */
import type { Command } from 'commander';
import type { EventView, EventsReply } from '@strata/api';
import {
  isAfterBound,
  matchesFilters,
  parseFilters,
  parsePositiveInt,
  parseTimeBound,
  timeBoundParam,
  type EventFilters,
  type TimeBound,
} from '../args.js';
import { networkReason, type Query } from '../client.js';
import { queryParams, withQueryOptions, type Context, type QueryOptions } from '../context.js';
import { ProtocolError, UsageError } from '../errors.js';
import { csvLine } from '../table.js';

type ContextOf = (command: Command) => Context;
type Format = 'table' | 'ndjson' | 'csv';

interface EventsOptions extends QueryOptions {
  since?: string;
  until?: string;
  filter: string[];
  follow?: boolean;
  limit?: string;
  format?: string;
}

/** Largest page asked for; the node may answer with less and a `next` cursor. */
const PAGE = 1000;

/** The node's own CSV export (GET /events?format=csv) uses these columns and CRLF: the CLI matches it. */
const CSV_COLUMNS = [
  'position', 'occurredAt', 'type', 'schemaVersion', 'streamId', 'version', 'actor', 'commandId',
  'correlationId', 'causationId', 'nodeId', 'eventId', 'data',
] as const satisfies readonly (keyof EventView)[];

export function registerEvents(program: Command, contextOf: ContextOf): void {
  withQueryOptions(
    program
      .command('events')
      .description('show events from the log, filtered; --follow to keep watching (with --json: one JSON event per line)')
      .option('--since <when>', 'from this position, ISO time or duration ago (10m, 2h, 1h30m), inclusive')
      .option('--until <when>', 'up to this position, ISO time or duration ago, inclusive')
      .option(
        '--filter <key=value>',
        'stream=, category=, type=, actor=, correlationId= (repeatable; several type= mean any of them)',
        (value: string, previous: string[]) => [...previous, value],
        [] as string[],
      )
      .option('-f, --follow', 'after the history, stream new events as they are appended (Ctrl-C to stop)')
      .option('--limit <n>', 'stop after this many events')
      .option('--format <format>', 'table (default), ndjson or csv'),
  ).action(async (options: EventsOptions, command: Command) => {
    const ctx = contextOf(command);
    const now = ctx.io.now();
    const format = outputFormat(options.format, ctx.json);
    const filters = parseFilters(options.filter);
    const since = options.since === undefined ? undefined : parseTimeBound(options.since, now, '--since');
    const until = options.until === undefined ? undefined : parseTimeBound(options.until, now, '--until');
    const limit = options.limit === undefined ? Infinity : parsePositiveInt(options.limit, '--limit');
    if (options.follow && options.at !== undefined) throw new UsageError('--at looks at the past; it cannot be combined with --follow');

    const out = printer(ctx, format);
    let printed = 0;
    let last: number | null = null;

    // 1. The history: all of it, unless --follow alone asked only for what comes next.
    let historyPosition: number | null = null;
    if (!options.follow || since !== undefined) {
      const base: Query = { ...filterQuery(filters), ...queryParams(options, now) };
      if (since) base.since = timeBoundParam(since);
      if (until) base.until = timeBoundParam(until);
      let after: number | undefined;
      for (;;) {
        const page = Math.min(limit - printed, PAGE);
        const reply = await ctx.client.getList<EventView, EventsReply>('/events', { ...base, after, limit: page });
        historyPosition = reply.position;
        out.header();
        for (const event of reply.items) {
          if (printed >= limit) break;
          out.event(event);
          printed += 1;
          last = event.position;
        }
        if (reply.next === null || printed >= limit) break;
        // A cursor that does not advance would page forever: a node bug, reported as such.
        if (after !== undefined && reply.next <= after) throw new ProtocolError(`GET /events paging did not advance (next=${reply.next})`);
        after = reply.next;
      }
    }
    if (!options.follow || printed >= limit) return;
    if (until && isPast(until, historyPosition, now)) return;

    // 2. Live: from the last event shown (or the position the history answer reflected), or from now.
    const stop = new AbortController();
    const signal = ctx.io.signal ? AbortSignal.any([ctx.io.signal, stop.signal]) : stop.signal;
    out.header();
    const timer = until?.kind === 'time' ? setTimeout(() => stop.abort(), Date.parse(until.iso) - now.getTime()) : undefined;
    try {
      const events = ctx.client.follow({
        query: filterQuery(filters),
        after: last ?? historyPosition,
        signal,
        onReconnect: (attempt, position, cause) =>
          ctx.note(`event stream interrupted (${networkReason(cause)}); reconnecting after position ${position ?? 'now'}, attempt ${attempt}`),
      });
      for await (const event of events) {
        if (until && isAfterBound(until, event.position, event.occurredAt)) break;
        // The node is asked to filter the stream too; checking here keeps the output right if it does not.
        if (!matchesFilters(filters, event)) continue;
        out.event(event);
        printed += 1;
        if (printed >= limit) break;
      }
    } finally {
      clearTimeout(timer);
    }
  });
}

function outputFormat(format: string | undefined, json: boolean): Format {
  if (format === undefined) return json ? 'ndjson' : 'table';
  if (format !== 'table' && format !== 'ndjson' && format !== 'csv') {
    throw new UsageError(`--format must be table, ndjson or csv, not "${format}"`);
  }
  if (json && format !== 'ndjson') throw new UsageError(`--json prints NDJSON; it cannot be combined with --format ${format}`);
  return format;
}

function filterQuery(filters: EventFilters): Query {
  return { ...filters };
}

/** An `until` already behind us: the history covered it, there is nothing live to wait for. */
function isPast(until: TimeBound, historyPosition: number | null, now: Date): boolean {
  if (until.kind === 'time') return Date.parse(until.iso) <= now.getTime();
  return historyPosition !== null && until.position <= historyPosition;
}

/**
 * One event per line in the chosen format. The table's (or the CSV's) header is printed once the node
 * has answered, even if no event matched: an empty result then looks like one, not like a failure.
 */
function printer(ctx: Context, format: Format): { header(): void; event(event: EventView): void } {
  let started = format === 'ndjson';
  const header = () => {
    if (started) return;
    started = true;
    if (format === 'csv') ctx.io.stdout.write(`${csvLine(CSV_COLUMNS)}\r\n`);
    else ctx.print(eventLine('TIME', 'POSITION', 'TYPE', 'STREAM', 'ACTOR'));
  };
  return {
    header,
    event(event) {
      header();
      if (format === 'ndjson') return ctx.print(JSON.stringify(event));
      if (format === 'csv') return void ctx.io.stdout.write(`${csvLine(CSV_COLUMNS.map((c) => event[c]))}\r\n`);
      ctx.print(eventLine(event.occurredAt, String(event.position), event.type, event.streamId, event.actor));
    },
  };
}

/**
 * Fixed-width columns: events are printed as they arrive (a live stream has no "widest cell"), so the
 * widths are set for the usual ISO time, positions up to 8 digits and typical type/stream names.
 */
export function eventLine(time: string, position: string, type: string, stream: string, actor: string): string {
  return `${time.padEnd(24)}   ${position.padStart(8)}   ${type.padEnd(24)}   ${stream.padEnd(32)}   ${actor}`.trimEnd();
}
