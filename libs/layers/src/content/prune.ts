import { stat } from 'node:fs/promises';
import type { ContentLeases } from './leases.js';
import type { BlobInfo, ContentStore } from './port.js';

export interface PruneContentOptions {
  /**
   * The mark: true for a blob something still needs (a manifest, config or layer of an image that
   * exists, of a container's image…). The caller computes it from the projections.
   */
  isLive: (digest: string) => boolean | Promise<boolean>;
  /**
   * Grace period: only blobs last written before this are candidates. An import or upload in flight has
   * written its blobs but not yet appended the event that makes them live; a crash may even have cut it
   * off before it held a lease. Pass something comfortably older than the longest import (an hour).
   */
  olderThan: Date;
  /** Blobs held by a lease are kept whatever their age. */
  leases?: ContentLeases;
  /** Report what would go, delete nothing. */
  dryRun?: boolean;
}

export interface PruneContentResult {
  removed: BlobInfo[];
  freedBytes: number;
}

/**
 * Mark-and-sweep garbage collection of the content store: every blob that is not live, not leased and
 * older than the grace period is deleted. The lease is checked immediately before each delete (in the
 * same tick as the store registers the delete), so a put that leases a blob either happens before the
 * check (and the blob stays) or waits for the delete to finish (and writes the blob again).
 */
export async function pruneContent(store: ContentStore, options: PruneContentOptions): Promise<PruneContentResult> {
  const removed: BlobInfo[] = [];
  let freedBytes = 0;
  const candidates: BlobInfo[] = [];
  for await (const blob of store.list()) {
    if (blob.modifiedAt >= options.olderThan) continue;
    if (await options.isLive(blob.digest)) continue;
    candidates.push({ digest: blob.digest, size: blob.size });
  }
  for (const blob of candidates) {
    if (options.leases?.isHeld(blob.digest)) continue;
    if (options.dryRun) {
      removed.push(blob);
      freedBytes += blob.size;
      continue;
    }
    // Re-check the age: a put may have re-stored the blob (fresh mtime) since it was listed.
    if (await isFresh(store, blob.digest, options.olderThan)) continue;
    if (options.leases?.isHeld(blob.digest)) continue;
    if (await store.delete(blob.digest)) {
      removed.push(blob);
      freedBytes += blob.size;
    }
  }
  return { removed, freedBytes };
}

/** Whether the blob was (re)written since `olderThan`, or is already gone. */
async function isFresh(store: ContentStore, digest: string, olderThan: Date): Promise<boolean> {
  try {
    return (await stat(store.pathOf(digest))).mtime >= olderThan;
  } catch {
    return true;
  }
}
