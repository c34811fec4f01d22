import type { EventEnvelope, ProposedEvent } from '@strata/domain';
import { ConcurrencyError, type EventStore } from '../port.js';

/** What an export line holds: the whole envelope as the source stored it (position is the source's). */
export type ExportedEvent = EventEnvelope;

export interface TransferProgress {
  /** Events read so far. */
  events: number;
  /** Of those, appended to the target now, and already there (an import run before). */
  appended: number;
  present: number;
}

/** The target log holds other events where the export has these: nothing of this append was written. */
export class LogImportError extends Error {
  readonly code = 'LOG_IMPORT_CONFLICT';
  constructor(message: string) {
    super(message);
    this.name = 'LogImportError';
  }
}

/**
 * Every event of `store` in log order, as stored (open the store without upcasters to keep old schema
 * versions as they are: an export is a copy, not a migration), page by page.
 */
export async function* exportLog(store: EventStore, pageSize = 1000): AsyncGenerator<ExportedEvent> {
  for (let after = 0; ; ) {
    const page = await store.readAll({ after, limit: pageSize });
    if (page.length === 0) return;
    yield* page;
    after = page[page.length - 1].position;
  }
}

/**
 * Appends exported events to `store` in their order, one append per command (consecutive events of
 * one commandId and stream), each at the version it had: event ids, command ids, times, actors and
 * versions are kept; positions are the target's own. Idempotent: an append whose commandId the target
 * has seen is skipped (checked to be the same events), so an interrupted import is simply run again.
 */
export async function importLog(
  store: EventStore,
  events: AsyncIterable<ExportedEvent>,
  onProgress?: (progress: TransferProgress) => void,
): Promise<TransferProgress> {
  const progress: TransferProgress = { events: 0, appended: 0, present: 0 };
  let batch: ExportedEvent[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const group = batch;
    batch = [];
    await appendGroup(store, group, progress);
    onProgress?.({ ...progress });
  };
  for await (const event of events) {
    const first = batch[0];
    if (first && (event.commandId !== first.commandId || event.streamId !== first.streamId)) await flush();
    batch.push(event);
    progress.events += 1;
  }
  await flush();
  return progress;
}

async function appendGroup(store: EventStore, group: ExportedEvent[], progress: TransferProgress): Promise<void> {
  const { streamId, commandId, version } = group[0];
  group.forEach((e, i) => {
    if (e.version !== version + i) {
      throw new LogImportError(`the export is not in log order: ${streamId} version ${e.version} follows ${version + i - 1} (command ${commandId})`);
    }
  });
  const proposed: ProposedEvent[] = group.map(({ streamId: _s, version: _v, position: _p, commandId: _c, ...rest }) => rest);
  try {
    const result = await store.append(streamId, version === 1 ? 'no-stream' : version - 1, proposed, { commandId });
    if (result.duplicate) {
      const ids = result.events.map((e) => e.eventId).join(',');
      if (ids !== group.map((e) => e.eventId).join(',')) {
        throw new LogImportError(`command ${commandId} is in the target log with other events (${ids}): the target is another log, import into an empty one`);
      }
      progress.present += group.length;
    } else progress.appended += group.length;
  } catch (error) {
    if (error instanceof ConcurrencyError) {
      throw new LogImportError(
        `stream ${streamId} is at version ${error.actual} in the target, but the export continues it from version ${version - 1}: the target log holds other events; import into an empty log (or the one this export was made from)`,
      );
    }
    throw error;
  }
}

/** One export line per event: JSON of the envelope, newline-terminated. */
export function exportLine(event: ExportedEvent): string {
  return `${JSON.stringify(event)}\n`;
}

/** Parses export lines from a stream of text chunks; blank lines are skipped, a bad line names its number. */
export async function* parseExportLines(chunks: AsyncIterable<string | Buffer>): AsyncGenerator<ExportedEvent> {
  let buffer = '';
  let line = 0;
  const parse = (text: string): ExportedEvent | null => {
    line += 1;
    if (text.trim() === '') return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new LogImportError(`line ${line} is not JSON: an export has one event envelope per line`);
    }
    const e = value as Partial<ExportedEvent>;
    if (typeof e !== 'object' || e === null || typeof e.eventId !== 'string' || typeof e.streamId !== 'string' || typeof e.commandId !== 'string' || !Number.isSafeInteger(e.version) || typeof e.type !== 'string') {
      throw new LogImportError(`line ${line} is not an event envelope (eventId, type, streamId, version, commandId…)`);
    }
    return e as ExportedEvent;
  };
  for await (const chunk of chunks) {
    buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const event = parse(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
      if (event) yield event;
    }
  }
  const last = parse(buffer);
  if (last) yield last;
}
