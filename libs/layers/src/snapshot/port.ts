import type { Change, WhiteoutStyle } from '../changes.js';

/** A mount, in the shape runc's config.json and mount(8) take. */
export interface Mount {
  type: 'overlay' | 'bind';
  source: string;
  options: string[];
}

export type SnapshotKind = 'active' | 'view' | 'committed';

export interface SnapshotInfo {
  key: string;
  parent?: string;
  kind: SnapshotKind;
}

/**
 * Snapshotters, modelled on containerd's: a committed snapshot is an immutable filesystem (an image
 * layer stacked on its parents, keyed by chainID); an active one is a writable layer on top of a
 * committed parent (a container's rootfs, or a layer being unpacked); a view is a read-only active one.
 *
 * - `overlay`: one directory per committed layer, stacked as overlayfs lowerdirs; an active snapshot
 *   adds upperdir/workdir. Needs root and kernel overlayfs.
 * - `native`: every snapshot is a full copy of its parent (like Docker's vfs); changes are found by
 *   comparing with the parent. Works anywhere.
 */
export interface Snapshotter {
  readonly name: 'overlay' | 'native';
  /** How the layer applier must write deletions into `writable(key).dir`. */
  readonly whiteoutStyle: WhiteoutStyle;
  /**
   * A new writable snapshot on `parent` (a committed key) or on nothing. SNAPSHOT_EXISTS if the key is
   * taken (by any kind of snapshot); SNAPSHOT_NOT_FOUND if `parent` is unknown or not committed.
   */
  prepare(key: string, parent?: string): Promise<Mount[]>;
  /** A new read-only snapshot of `parent`. */
  view(key: string, parent?: string): Promise<Mount[]>;
  /** The mounts of an active snapshot or a view (SNAPSHOT_NOT_ACTIVE for a committed one: take a view). */
  mounts(key: string): Promise<Mount[]>;
  /**
   * Turns an active snapshot into the committed snapshot `name`; the active key is gone afterwards.
   * SNAPSHOT_NOT_ACTIVE unless `key` is active, SNAPSHOT_EXISTS if `name` is taken.
   */
  commit(name: string, key: string): Promise<void>;
  /** Removes a snapshot and its files. SNAPSHOT_IN_USE while it has children or is seen mounted. */
  remove(key: string): Promise<void>;
  stat(key: string): Promise<SnapshotInfo | undefined>;
  list(): Promise<SnapshotInfo[]>;
  /** The directory a layer applier writes into for an active snapshot (overlay: upperdir; native: the copy). */
  writable(key: string): Promise<{ dir: string; style: WhiteoutStyle }>;
  /**
   * What an active (or committed) snapshot's own layer changes relative to its parent, for `diff` and
   * CommitLayer, sorted by path; a view has none. Directories follow `docker diff` on overlay2: listed
   * when their own mode, owner or mtime changed or a child was added or deleted, not for deeper changes.
   */
  changes(key: string): Promise<Change[]>;
  /** Bytes used by the snapshot's own layer. */
  usage(key: string): Promise<{ size: number; inodes: number }>;
}
