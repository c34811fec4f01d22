import type { ContainerView, EventsReply, FileChangeView, ImageView, RepositoryView, TagMoveView, TagView } from '@strata/api';
import type { EventFilter } from './event-filter.js';
import type { ChecksumOptions } from './checksum.js';

/** A node's share of the containers read model. */
export interface ContainerCounts {
  containers: number;
  running: number;
}

/** One page of the audit log: pass `next` as `after` for the following page (null: last page). */
export type EventPage = Pick<EventsReply, 'items' | 'next'>;

/**
 * The queries the read models answer. The live engine, a rebuilt database and a time-travel snapshot
 * all implement it, so the HTTP layer does not care which one it asks. The position an answer reflects
 * is the engine's position() or the snapshot's `position`.
 */
export interface ReadModel {
  /** Live repositories, by name. */
  listRepositories(): Promise<RepositoryView[]>;
  getRepository(name: string): Promise<RepositoryView | null>;
  /** The repository's current tags, by tag (empty if there is no such repository). */
  listTags(name: string): Promise<TagView[]>;
  /** Every set, move and removal of the repository's tags (or of one tag), oldest first. */
  tagHistory(name: string, tag?: string): Promise<TagMoveView[]>;
  /**
   * The last move of `name:tag` at or before `position`: its `to` is what the tag pointed to then
   * (null: it had been removed). null: the tag did not exist yet.
   */
  tagAt(name: string, tag: string, position: number): Promise<TagMoveView | null>;
  /** The audit log, filtered, oldest first, paged by position (`next` → `after`). */
  queryEvents(filter?: EventFilter): Promise<EventPage>;
  /** Live images, newest recorded first. */
  listImages(): Promise<ImageView[]>;
  getImage(manifestDigest: string): Promise<ImageView | null>;
  /** Images whose id (config digest) or manifest digest starts with the hex prefix (no "sha256:"). */
  findImagesByPrefix(prefix: string): Promise<ImageView[]>;
  /** Every blob the read models reference: images' manifests, configs, layers, and recorded file contents. For prune. */
  liveImageBlobs(): Promise<Set<string>>;
  /** Live containers, newest first; only running and paused ones unless `all` (like `docker ps [-a]`). */
  listContainers(all: boolean): Promise<ContainerView[]>;
  getContainer(id: string): Promise<ContainerView | null>;
  /** Per node: its live containers and how many of them are running or paused (placement, `node ls`), counted without listing them. */
  containerCountsByNode(): Promise<Map<string, ContainerCounts>>;
  /** Containers whose id is `ref`, whose name is `ref`, or whose id starts with `ref`. */
  findContainers(ref: string): Promise<ContainerView[]>;
  /** Ids of the live containers made from the image (they hold it: rmi refuses). */
  containersUsingImage(manifestDigest: string): Promise<string[]>;
  /** Recorded changes of a container's writable layer, oldest first (of one path, if given). */
  fileChanges(containerId: string, path?: string): Promise<FileChangeView[]>;
  /** sha256 over every read-model table (not the checkpoints). */
  checksum(options?: ChecksumOptions): Promise<string>;
}
