import type { EventStore } from '@strata/eventstore';
import { catchUp } from './catch-up.js';
import type { Projector } from './projectors/projector.js';
import { ReadDatabase } from './read-database.js';
import { SqliteReadModel } from './sqlite-read-model.js';

/**
 * The read models as of a past position: the same projectors, run into a private in-memory database
 * up to that position, so the answers are those of a node that only ever saw the log up to there.
 * Disposable: close() it after use.
 */
export class TimeTravelReadModel extends SqliteReadModel {
  private constructor(
    db: ReadDatabase,
    /** The position asked for (the API's `?at=`), even where no event sits exactly there. */
    readonly position: number,
  ) {
    super(db);
  }

  static async build(store: EventStore, projectors: readonly Projector[], position: number, batchSize: number) {
    const db = await ReadDatabase.open({ path: ':memory:', projectors, mode: 'scratch', deferIndexes: true });
    try {
      await catchUp(store, db, { batchSize, until: position });
      db.finishLoad();
    } catch (error) {
      await db.close();
      throw error;
    }
    return new TimeTravelReadModel(db, position);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  dispose(): Promise<void> {
    return this.close();
  }
}
