import { Inject, Injectable } from '@nestjs/common';
import { containerStreamId, type ContainerEvent, type FileChange } from '@strata/domain';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import { mapLimit, type Change, type ContentStore, type OpenedSnapshotter } from '@strata/layers';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTENT_STORE, SNAPSHOTTER } from '../images/layer-tokens.js';
import { snapshotKeyOf } from './container-rootfs.js';

/** Files described (read, hashed, stored) at once: enough to keep the thread pool's 4 threads busy with reads and fsyncs. */
const DESCRIBE_CONCURRENCY = 8;

/**
 * The writable layer as history: what changed relative to the image (`docker diff`), and what changed
 * since the log last recorded it. File contents go to the content store; events carry only digests.
 */
@Injectable()
export class ContainerFiles {
  constructor(
    @Inject(SNAPSHOTTER) private readonly snapshots: OpenedSnapshotter,
    @Inject(CONTENT_STORE) private readonly content: ContentStore,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  /** `docker diff`: the writable layer relative to the image. */
  diff(containerId: string): Promise<Change[]> {
    return this.snapshots.snapshotter.changes(snapshotKeyOf(containerId));
  }

  /**
   * The current state of each changed path, contents stored: several files at once (each put waits on
   * its fsyncs; the store shares a directory fsync between puts running together), in `changes`' order.
   */
  async describe(containerId: string, changes: Change[]): Promise<FileChange[]> {
    const { dir } = await this.snapshots.snapshotter.writable(snapshotKeyOf(containerId));
    const described: Array<FileChange | undefined> = new Array(changes.length);
    await mapLimit([...changes.keys()], DESCRIBE_CONCURRENCY, async (i) => {
      described[i] = await this.describeOne(dir, changes[i]);
    });
    return described.filter((c): c is FileChange => c !== undefined);
  }

  private async describeOne(dir: string, change: Change): Promise<FileChange | undefined> {
    if (change.kind === 'D') return { path: change.path, kind: 'D', type: change.type ?? null, size: null, digest: null, mode: null };
    const full = join(dir, change.path);
    const stats = await lstat(full).catch(() => undefined);
    if (!stats) return undefined; // changed again while we looked: the next recording sees it
    const file = stats.isFile();
    const digest = file ? (await this.content.put(createReadStream(full))).digest : null;
    return { path: change.path, kind: change.kind, type: change.type ?? (file ? 'file' : null), size: file ? stats.size : null, digest, mode: stats.mode & 0o7777 };
  }

  /** What changed since the log's last record: new or different paths, and recorded paths now gone. */
  async unrecorded(containerId: string): Promise<FileChange[]> {
    const current = new Map((await this.describe(containerId, await this.diff(containerId))).map((c) => [c.path, c]));
    const recorded = await this.recorded(containerId);
    const delta: FileChange[] = [];
    for (const [path, now] of current) {
      const before = recorded.get(path);
      if (!before || before.kind !== now.kind || before.digest !== now.digest || before.mode !== now.mode || before.type !== now.type) delta.push(now);
    }
    for (const [path, before] of recorded) {
      // Recorded as changed, now back to the image's state (a file added then deleted): that is a deletion.
      if (!current.has(path) && before.kind !== 'D') delta.push({ path, kind: 'D', type: before.type, size: null, digest: null, mode: null });
    }
    return delta.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Each path's last recorded change, from the log itself (not a projection: no lag). */
  private async recorded(containerId: string): Promise<Map<string, FileChange>> {
    const last = new Map<string, FileChange>();
    for (const event of (await this.store.readStream(containerStreamId(containerId))) as unknown as ContainerEvent[]) {
      if (event.type !== 'ContainerFilesChanged') continue;
      for (const change of event.data.changes) last.set(change.path, change);
    }
    return last;
  }
}
