import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Change } from '../changes.js';
import { layerConflict } from '../errors.js';
import { SnapshotCatalog, type SnapshotRecord } from './catalog.js';
import { diskUsage } from './file-tree.js';
import { overlayChanges } from './overlay-changes.js';
import type { Mount, SnapshotInfo, Snapshotter } from './port.js';
import { opaqueDirectories } from './whiteouts.js';

/**
 * Kernel overlayfs, as containerd's overlayfs snapshotter: `<root>/snapshots/<id>/fs` is a snapshot's own
 * layer (the upperdir while it is active, a lowerdir of its children once committed) and `work/` its
 * workdir. Needs root, kernel overlayfs and setfattr/getfattr (opaque directories are xattrs).
 */
export class OverlaySnapshotter implements Snapshotter {
  readonly name = 'overlay';
  readonly whiteoutStyle = 'overlay';

  private constructor(private readonly catalog: SnapshotCatalog) {}

  static async open(root: string): Promise<OverlaySnapshotter> {
    return new OverlaySnapshotter(await SnapshotCatalog.open(root, 'overlay'));
  }

  async prepare(key: string, parent?: string): Promise<Mount[]> {
    await this.catalog.create(key, 'active', parent, makeLayerDirs);
    return this.mounts(key);
  }

  async view(key: string, parent?: string): Promise<Mount[]> {
    await this.catalog.create(key, 'view', parent, (dir) => mkdir(join(dir, 'fs'), { mode: 0o755 }).then(() => undefined));
    return this.mounts(key);
  }

  async mounts(key: string): Promise<Mount[]> {
    const record = this.catalog.get(key);
    if (record.kind === 'committed') throw notActive(key, 'has no mounts: take a view of it');
    const lowers = this.catalog.ancestors(record).map((r) => this.fs(r));
    if (record.kind === 'view') {
      // overlayfs wants two lowerdirs at least; one layer (or none) is simply bound read-only.
      if (lowers.length <= 1) return [{ type: 'bind', source: lowers[0] ?? this.fs(record), options: ['rbind', 'ro'] }];
      return [{ type: 'overlay', source: 'overlay', options: [...OVERLAY_OPTIONS, `lowerdir=${lowers.join(':')}`] }];
    }
    if (lowers.length === 0) return [{ type: 'bind', source: this.fs(record), options: ['rbind', 'rw'] }];
    const dir = this.catalog.dirOf(record);
    return [{ type: 'overlay', source: 'overlay', options: [...OVERLAY_OPTIONS, `lowerdir=${lowers.join(':')}`, `upperdir=${join(dir, 'fs')}`, `workdir=${join(dir, 'work')}`] }];
  }

  async commit(name: string, key: string): Promise<void> {
    // Opaque directories are read once here: a committed layer never changes, and changes() of its
    // children then needs no getfattr over the lower layers.
    await this.catalog.commit(name, key, async (record) => ({ opaque: [...(await opaqueDirectories(this.fs(record)))].sort() }));
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

  async writable(key: string): Promise<{ dir: string; style: 'overlay' }> {
    const record = this.catalog.get(key);
    if (record.kind !== 'active') throw notActive(key, 'is not writable');
    return { dir: this.fs(record), style: 'overlay' };
  }

  /** For an active or committed snapshot: its own layer against its parents; a view has none (empty). */
  async changes(key: string): Promise<Change[]> {
    const record = this.catalog.get(key);
    if (record.kind === 'view') return [];
    const lowers = this.catalog.ancestors(record).map((r) => ({ dir: this.fs(r), opaque: new Set(r.opaque ?? []) }));
    const upperOpaque = record.kind === 'committed' ? new Set(record.opaque ?? []) : await opaqueDirectories(this.fs(record));
    return overlayChanges(this.fs(record), upperOpaque, lowers);
  }

  async usage(key: string): Promise<{ size: number; inodes: number }> {
    return diskUsage(this.fs(this.catalog.get(key)));
  }

  private fs(record: SnapshotRecord): string {
    return join(this.catalog.dirOf(record), 'fs');
  }
}

/**
 * Pinned rather than left to the kernel's defaults: with redirect_dir a renamed lower directory is an
 * xattr pointing elsewhere (changes() would see an empty directory), with metacopy a chmod copies up no
 * data (a committed layer would need the old lowers), and with index an upperdir is tied to its lowers.
 */
const OVERLAY_OPTIONS = ['index=off', 'redirect_dir=off', 'metacopy=off'];

async function makeLayerDirs(dir: string): Promise<void> {
  await mkdir(join(dir, 'fs'), { mode: 0o755 });
  await mkdir(join(dir, 'work'), { mode: 0o700 });
}

const notActive = (key: string, what: string) => layerConflict('SNAPSHOT_NOT_ACTIVE', `snapshot ${JSON.stringify(key)} ${what}`, { key });
