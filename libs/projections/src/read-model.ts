import type { EventsReply, ListReply, RepositoryView, TagMoveView, TagView } from '@strata/api';
import type { EventFilter } from './event-filter.js';

/**
 * The queries the read models answer. The live engine, a rebuilt database and a time-travel snapshot
 * all implement it, so the HTTP layer does not care which one it asks.
 */
export interface ReadModel {
  /** The log position the answers reflect. */
  position(): number;
  /** Live repositories, by name. */
  listRepositories(): Promise<ListReply<RepositoryView>>;
  getRepository(name: string): Promise<RepositoryView | null>;
  /** The repository's current tags, by tag (empty if there is no such repository). */
  listTags(name: string): Promise<ListReply<TagView>>;
  /** Every set, move and removal of the repository's tags (or of one tag), oldest first. */
  tagHistory(name: string, tag?: string): Promise<ListReply<TagMoveView>>;
  /**
   * The last move of `name:tag` at or before `position`: its `to` is what the tag pointed to then
   * (null: it had been removed). null: the tag did not exist yet.
   */
  tagAt(name: string, tag: string, position: number): Promise<TagMoveView | null>;
  /** The audit log, filtered, oldest first, paged by position (`next` → `after`). */
  queryEvents(filter?: EventFilter): Promise<EventsReply>;
  /** sha256 over every read-model table (not the checkpoints). */
  checksum(): Promise<string>;
}
