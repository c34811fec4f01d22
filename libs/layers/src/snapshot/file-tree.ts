import type { BigIntStats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Change, FileType } from '../changes.js';

/** lstat with nanosecond times (bigint), or undefined when nothing is there. */
export async function lstatOrUndefined(path: string): Promise<BigIntStats | undefined> {
  try {
    return await lstat(path, { bigint: true });
  } catch (error: any) {
    if (error?.code === 'ENOENT' || error?.code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Names in a directory, sorted so walks (and their output) are deterministic; none if it just went away (a running container). */
export async function sortedNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (error: any) {
    if (error?.code === 'ENOENT' || error?.code === 'ENOTDIR') return [];
    throw error;
  }
}

export function fileTypeOf(stats: BigIntStats): FileType {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isFIFO()) return 'fifo';
  return 'other';
}

/** An overlayfs whiteout (character device 0/0), for bigint stats. */
export const isWhiteout = (stats: BigIntStats): boolean => stats.isCharacterDevice() && stats.rdev === 0n;

/**
 * Whether a directory's own metadata differs: mode, owner, mtime to the nanosecond. Size is left out on
 * purpose: a copied-up directory is smaller than the lower one it shadows without anything having changed.
 */
export const directoryMetadataDiffers = (a: BigIntStats, b: BigIntStats): boolean =>
  a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.mtimeNs !== b.mtimeNs;

/** Whether a non-directory differs: type and mode, owner, size, mtime (ns), device number, symlink target. */
export async function entryDiffers(a: BigIntStats, aPath: string, b: BigIntStats, bPath: string): Promise<boolean> {
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.size !== b.size || a.mtimeNs !== b.mtimeNs || a.rdev !== b.rdev) return true;
  return a.isSymbolicLink() && (await readlink(aPath)) !== (await readlink(bPath));
}

/** "/a/b" for "a/b": changes name paths as absolute inside the root, like `docker diff`. */
export const rootPath = (rel: string): string => '/' + rel;

export const byPath = (a: Change, b: Change): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** What `du` would say for `dir`: allocated bytes and inodes, each hard-linked inode counted once. */
export async function diskUsage(dir: string): Promise<{ size: number; inodes: number }> {
  const seen = new Set<bigint>();
  let size = 0;
  const visit = async (path: string): Promise<void> => {
    const stats = await lstat(path, { bigint: true });
    if (!seen.has(stats.ino)) {
      seen.add(stats.ino);
      size += Number(stats.blocks) * 512;
    }
    if (stats.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  };
  await visit(dir);
  return { size, inodes: seen.size };
}
