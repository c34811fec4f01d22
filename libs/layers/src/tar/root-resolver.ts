import type { Stats } from 'node:fs';
import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { layerInvalid } from '../errors.js';
import { baseOf, parentOf, ROOT_PATH } from './entry-paths.js';

/** Linux gives up after 40 symlinks in one lookup (MAXSYMLINKS); so do we. */
const MAX_SYMLINKS = 40;

/**
 * Resolves layer paths to real directories under `root` the way a chroot would (like Go's securejoin):
 * a symlinked directory is followed, but an absolute target restarts at `root` and ".." stops there.
 * So "a -> /etc" then "a/passwd" lands on `root`/etc/passwd, never the host's /etc/passwd. The last
 * component of a path is never followed: callers replace it, they do not write through it.
 *
 * Lookups are cached; call `invalidate()` after removing a directory or creating a symlink.
 */
export class RootResolver {
  private readonly cache = new Map<string, string>();

  constructor(readonly root: string) {}

  invalidate(): void {
    this.cache.clear();
  }

  /** Where `path`'s last component lives: `{ dir, abs }`, or undefined if a parent is missing and `create` is off. */
  async locate(path: string, create: boolean): Promise<{ dir: string; abs: string } | undefined> {
    if (path === ROOT_PATH) return { dir: this.root, abs: this.root };
    const dir = await this.directory(parentOf(path), create);
    return dir === undefined ? undefined : { dir, abs: join(dir, baseOf(path)) };
  }

  /**
   * The real directory for a relative directory path; missing ones are made (0755) when `create` is on.
   * A non-directory in the way is UNSAFE_PATH when creating, "not there" (undefined) when only looking.
   */
  async directory(path: string, create: boolean): Promise<string | undefined> {
    if (path === ROOT_PATH) return this.root;
    const cached = this.cache.get(path);
    if (cached !== undefined) return cached;
    const resolved: string[] = [];
    const pending = path.split('/');
    let symlinks = 0;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        resolved.pop(); // never above the root
        continue;
      }
      const abs = join(this.root, ...resolved, part);
      const stats = await lstatOrUndefined(abs);
      if (stats === undefined) {
        if (!create) return undefined;
        await mkdir(abs, { mode: 0o755 });
      } else if (stats.isSymbolicLink()) {
        if (++symlinks > MAX_SYMLINKS) {
          throw layerInvalid('UNSAFE_PATH', `${JSON.stringify(path)}: too many levels of symbolic links`, { path });
        }
        const target = await readlink(abs);
        if (target.startsWith('/')) resolved.length = 0;
        pending.unshift(...target.split('/'));
        continue;
      } else if (!stats.isDirectory()) {
        if (!create) return undefined; // looking, not writing: nothing is there
        throw layerInvalid('UNSAFE_PATH', `${JSON.stringify(path)}: ${JSON.stringify([...resolved, part].join('/'))} is not a directory`, { path });
      }
      resolved.push(part);
    }
    const dir = join(this.root, ...resolved);
    this.cache.set(path, dir);
    return dir;
  }
}

export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error: any) {
    if (error?.code === 'ENOENT') return undefined;
    throw error;
  }
}
