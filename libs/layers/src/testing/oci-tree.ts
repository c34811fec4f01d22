import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** What a file-by-file comparison of two root filesystems looks at. */
export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number; // permission bits, setuid/setgid/sticky included
  uid: number;
  gid: number;
  sha256?: string;
  linkname?: string;
}

/** Every path under `root` (relative, sorted) with its type, mode, owner, content hash or link target. */
export async function describeTree(root: string): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const walk = async (relative: string) => {
    for (const name of (await readdir(join(root, relative))).sort()) {
      const path = relative ? `${relative}/${name}` : name;
      const full = join(root, path);
      const stats = await lstat(full);
      const base = { mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
      if (stats.isSymbolicLink()) out.set(path, { type: 'symlink', ...base, mode: 0, linkname: await readlink(full) });
      else if (stats.isDirectory()) {
        out.set(path, { type: 'dir', ...base });
        await walk(path);
      } else if (stats.isFile()) out.set(path, { type: 'file', ...base, sha256: createHash('sha256').update(await readFile(full)).digest('hex') });
      else out.set(path, { type: 'other', ...base });
    }
  };
  await walk('');
  return out;
}
