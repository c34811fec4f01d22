import { setImmediate as nextTurn } from 'node:timers/promises';
import type { EventStore } from '@strata/eventstore';
import type { ReadDatabase } from './read-database.js';

export interface CatchUpOptions {
  batchSize: number;
  /** Stop at this position (inclusive); default: the head as it moves. */
  until?: number;
  /** After each committed batch: the database's position and the events applied so far. */
  onBatch?(position: number, events: number): void;
  /** Checked before each read: true ends the catch-up early (the engine is stopping). */
  shouldStop?(): boolean;
}

/**
 * Reads the log from the database's checkpoint and applies it batch by batch (one transaction each),
 * until a read comes back short. Yields to the event loop between batches so queries, appends and
 * progress reports keep flowing during a long rebuild. Returns how many events it applied.
 */
export async function catchUp(store: EventStore, db: ReadDatabase, options: CatchUpOptions): Promise<number> {
  let applied = 0;
  for (;;) {
    if (options.shouldStop?.()) return applied;
    if (options.until !== undefined && db.position() >= options.until) return applied;
    const page = await store.readAll({ after: db.position(), limit: options.batchSize, until: options.until });
    if (page.length === 0) return applied;
    db.applyBatch(page);
    applied += page.length;
    options.onBatch?.(db.position(), applied);
    if (page.length < options.batchSize) return applied;
    await nextTurn();
  }
}
