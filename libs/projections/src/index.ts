export * from './schema/index.js';
export * from './projectors/index.js';
export { SqlReadModelWriter } from './sql-writer.js';
export { BulkReadModelWriter, DEFAULT_BULK_ROWS } from './bulk-writer.js';
export { ReadDatabase, type ReadDatabaseMode, type ReadDatabaseOptions, type ProjectorPosition } from './read-database.js';
export { readModelChecksum, readModelChecksumAside } from './checksum.js';
export { catchUp, type CatchUpOptions } from './catch-up.js';
export { compileEventFilter, DEFAULT_EVENTS_LIMIT, MAX_EVENTS_LIMIT, type EventFilter, type EventQuery, type CompiledEventFilter } from './event-filter.js';
export type { EventPage, ReadModel } from './read-model.js';
export { SqliteReadModel } from './sqlite-read-model.js';
export { TimeTravelReadModel } from './time-travel.js';
export {
  ProjectionEngine,
  ReplayInProgressError,
  type ReplaySummary,
  type ProjectionEngineOptions,
  type ProjectionLogger,
  type TimeTravelPoint,
} from './projection-engine.js';
