import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** One path of a directory tree, as much as a layer can carry, for comparing trees in tests. */
export interface TreeRecord {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'other';
  mode: string; // octal permission bits
  owner: string; // "uid:gid"
  mtime: number; // whole seconds: what a tar keeps
  content?: string; // sha256 of a file, target of a symlink, "major/minor" of a device
  /** Paths sharing this file's inode (hard links), when there is more than one. */
  links?: string[];
}

/** Every path under `root`, sorted, with hard link groups resolved; `mtimes: false` zeroes the times. */
export async function snapshotTree(root: string, options: { mtimes?: boolean } = {}): Promise<TreeRecord[]> {
  const records: TreeRecord[] = [];
  const byInode = new Map<string, string[]>();
  async function walk(rel: string) {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(root, path);
      const stats = await lstat(abs);
      const record: TreeRecord = {
        path,
        type: stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : stats.isFIFO() ? 'fifo' : stats.isCharacterDevice() ? 'char' : 'other',
        mode: (stats.mode & 0o7777).toString(8),
        owner: `${stats.uid}:${stats.gid}`,
        mtime: options.mtimes === false ? 0 : Math.floor(stats.mtimeMs / 1000),
      };
      if (record.type === 'file') {
        record.content = createHash('sha256').update(await readFile(abs)).digest('hex');
        if (stats.nlink > 1) {
          const key = `${stats.dev}:${stats.ino}`;
          const group = byInode.get(key) ?? [];
          byInode.set(key, group);
          group.push(path);
          record.links = group; // the same array for the whole group, complete once the walk ends
        }
      }
      if (record.type === 'symlink') record.content = await readlink(abs);
      if (record.type === 'char') record.content = `${Math.floor(stats.rdev / 256)}/${stats.rdev % 256}`;
      if (record.type === 'symlink') record.mode = '-';
      records.push(record);
      if (record.type === 'dir') await walk(path);
    }
  }
  await walk('');
  return records;
}

/** A directory's `trusted.overlay.opaque` value as getfattr(1) shows it, or undefined. */
export function opaqueXattrOf(dir: string): string | undefined {
  try {
    return execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', dir], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return undefined;
  }
}
