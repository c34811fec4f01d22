import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import type { EventsReply, ResyncNotice } from '@strata/api';
import { EVENT_STORE, PositionNotRetainedError, type EventStore } from '@strata/eventstore';
import type { Request, Response } from 'express';
import { ReadModels } from '../projections/read-models.service.js';
import { ApiError } from './api-error.js';
import { csvHeader, csvRow, matchesEvent, parseEventQuery, type EventsQueryParams } from './event-filter.js';

const HEARTBEAT_MS = 15_000;
const EXPORT_PAGE = 1000;

/** The audit log: every event ever, filtered and paged; exported; or followed live (SSE). */
@Controller('events')
export class EventsController {
  constructor(
    private readonly reads: ReadModels,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  @Get()
  async list(@Query() q: EventsQueryParams, @Req() request: Request, @Res() response: Response): Promise<void> {
    const query = parseEventQuery(q);
    const format = typeof q.format === 'string' ? q.format : request.accepts(['application/json', 'application/x-ndjson', 'text/csv']);
    const read = { minPosition: q.minPosition as string | undefined, at: q.at as string | undefined };
    if (format === 'json' || format === 'application/json' || format === false) {
      const { value, position } = await this.reads.read(read, (m) => m.queryEvents(query));
      const reply: EventsReply = { items: value.items, next: value.next, position };
      response.json(reply);
      return;
    }
    const csv = format === 'csv' || format === 'text/csv';
    if (!csv && format !== 'ndjson' && format !== 'application/x-ndjson') {
      throw new ApiError(400, 'VALIDATION_FAILED', 'format must be json, ndjson or csv');
    }
    // An export walks every matching page, so it is never cut at one page's limit.
    response.status(200).type(csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
    response.setHeader('Content-Disposition', `attachment; filename="strata-events.${csv ? 'csv' : 'ndjson'}"`);
    if (csv) response.write(csvHeader());
    let after = query.after;
    for (let pages = 0; pages < 1_000_000; pages++) {
      const { value } = await this.reads.read(read, (m) => m.queryEvents({ ...query, after, limit: EXPORT_PAGE }));
      for (const e of value.items) response.write(csv ? csvRow(e) : `${JSON.stringify(e)}\n`);
      if (value.next === null) break;
      after = value.next;
    }
    response.end();
  }

  /**
   * Live events as Server-Sent Events, read from the log itself. `id:` is the position, so a client
   * resumes with Last-Event-ID (or ?after=); without either it gets only new events, like `docker events`.
   */
  @Get('stream')
  async stream(@Query() q: EventsQueryParams, @Req() request: Request, @Res() response: Response): Promise<void> {
    const query = parseEventQuery({ ...q, after: undefined });
    const resume = request.header('Last-Event-ID') ?? (typeof q.after === 'string' ? q.after : undefined);
    if (resume !== undefined && !/^\d+$/.test(resume)) throw new ApiError(400, 'INVALID_POSITION', 'Last-Event-ID / after must be a position');
    const head = await this.store.head();
    const after = resume === undefined ? head : Number(resume);

    response.status(200);
    response.setHeader('Content-Type', 'text/event-stream');
    response.setHeader('Cache-Control', 'no-cache');
    response.setHeader('X-Accel-Buffering', 'no');
    response.flushHeaders();
    const resync = (message: string, oldestRetained: number) => {
      const notice: ResyncNotice = { code: 'RESYNC_REQUIRED', message, oldestRetained };
      response.write(`event: resync\ndata: ${JSON.stringify(notice)}\n\n`);
      response.end();
    };
    if (after > head) {
      // A position this log never had: the client follows another (or a replaced) log. Never skip silently.
      resync(`position ${after} is beyond this log's head (${head}); resync from a position at or below ${head}`, 1);
      return;
    }
    response.write(`retry: 2000\n: following from position ${after}\n\n`);
    const subscription = this.store.subscribe(after);
    const heartbeat = setInterval(() => response.write(': heartbeat\n\n'), HEARTBEAT_MS);
    request.on('close', () => void subscription.close());
    try {
      for await (const event of subscription) {
        if (!matchesEvent(query, event)) continue;
        // No `event:` field: every event reaches EventSource.onmessage; only `resync` is a named event.
        response.write(`id: ${event.position}\ndata: ${JSON.stringify(event)}\n\n`);
      }
    } catch (error) {
      if (error instanceof PositionNotRetainedError) resync(error.message, error.firstRetained);
      else throw error;
    } finally {
      clearInterval(heartbeat);
      await subscription.close();
      if (!response.writableEnded) response.end();
    }
  }
}
