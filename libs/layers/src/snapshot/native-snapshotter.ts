import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Change } from '../changes.js';
import { layerConflict, layerUnavailable } from '../errors.js';
import { SnapshotCatalog, type SnapshotRecord } from './catalog.js';
import { diskUsage } from './file-tree.js';
import type { Mount, SnapshotInfo, Snapshotter } from './port.js';
import { treeChanges } from './tree-changes.js';

const run = promisify(execFile);

/**
 * Copies instead of overlays, like containerd's native snapshotter and Docker's vfs: an active snapshot
 * is `<root>/snapshots/<id>/fs`, a full copy of its parent, and committing it just freezes it. A view
 * needs no copy: it is its parent, read-only (committed snapshots never change). Works without root.
 */
export class NativeSnapshotter implements Snapshotter {
  readonly name = 'native';
  readonly whiteoutStyle = 'native';

  private constructor(private readonly catalog: SnapshotCatalog) {}

  static async open(root: string): Promise<NativeSnapshotter> {
    return new NativeSnapshotter(await SnapshotCatalog.open(root, 'native'));
  }

  async prepare(key: string, parent?: string): Promise<Mount[]> {
    const base = parent === undefined ? undefined : this.catalog.find(parent);
    await this.catalog.create(key, 'active', parent, async (dir) => {
      if (base) await copyTree(this.fs(base), join(dir, 'fs'));
      else await mkdir(join(dir, 'fs'), { mode: 0o755 });
    });
    return this.mounts(key);
  }

  async view(key: string, parent?: string): Promise<Mount[]> {
    await this.catalog.create(key, 'view', parent, (dir) => mkdir(join(dir, 'fs'), { mode: 0o755 }).then(() => undefined));
    return this.mounts(key);
  }

  async mounts(key: string): Promise<Mount[]> {
    const record = this.catalog.get(key);
    if (record.kind === 'committed') throw notActive(key, 'has no mounts: take a view of it');
    if (record.kind === 'active') return [{ type: 'bind', source: this.fs(record), options: ['rbind', 'rw'] }];
    const parent = record.parent === undefined ? record : this.catalog.get(record.parent);
    return [{ type: 'bind', source: this.fs(parent), options: ['rbind', 'ro'] }];
  }

  commit(name: string, key: string): Promise<void> {
    return this.catalog.commit(name, key);
  }

  remove(key: string): Promise<void> {
    return this.catalog.remove(key);
  }

  async stat(key: string): Promise<SnapshotInfo | undefined> {
    const record = this.catalog.find(key);
    return record && this.catalog.info(record);
  }

  async list(): Promise<SnapshotInfo[]> {
    return this.catalog.list().map((r) => this.catalog.info(r));
  }

  async writable(key: string): Promise<{ dir: string; style: 'native' }> {
    const record = this.catalog.get(key);
    if (record.kind !== 'active') throw notActive(key, 'is not writable');
    return { dir: this.fs(record), style: 'native' };
  }

  /** For an active or committed snapshot: its copy against its parent's; a view has no layer of its own (empty). */
  async changes(key: string): Promise<Change[]> {
    const record = this.catalog.get(key);
    if (record.kind === 'view') return [];
    const parent = record.parent === undefined ? undefined : this.fs(this.catalog.get(record.parent));
    return treeChanges(this.fs(record), parent);
  }

  /** A copy's full size: that is what it costs on disk (less if the filesystem shares reflinked blocks). */
  async usage(key: string): Promise<{ size: number; inodes: number }> {
    return diskUsage(this.fs(this.catalog.get(key)));
  }

  private fs(record: SnapshotRecord): string {
    return join(this.catalog.dirOf(record), 'fs');
  }
}

/**
 * `cp -a` keeps owners, modes, times, hard links, symlinks, fifos and xattrs, and `--reflink=auto` shares
 * blocks where the filesystem can (btrfs, xfs). Without root it keeps what it can and stays quiet about
 * owners it cannot set, which is what an unprivileged node wants.
 */
async function copyTree(from: string, to: string): Promise<void> {
  try {
    await run('cp', ['-a', '--reflink=auto', '--no-target-directory', from, to], { maxBuffer: 16 * 1024 * 1024 });
  } catch (error: any) {
    if (error?.code === 'ENOENT') throw layerUnavailable('SNAPSHOTTER_UNAVAILABLE', 'cp(1) not found: the native snapshotter needs GNU coreutils');
    throw new Error(`copying ${from} to ${to} failed: ${String(error?.stderr || error?.message).trim()}`, { cause: error });
  }
}

const notActive = (key: string, what: string) => layerConflict('SNAPSHOT_NOT_ACTIVE', `snapshot ${JSON.stringify(key)} ${what}`, { key });
