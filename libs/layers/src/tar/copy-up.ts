import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, copyFile, lchown, lutimes, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isOverlayWhiteout, OPAQUE_XATTR } from '../snapshot/whiteouts.js';
import { ancestorsOf } from './entry-paths.js';
import { lstatOrUndefined } from './root-resolver.js';

const run = promisify(execFile);

/**
 * In the overlay style a layer is unpacked into its own directory, so a hard link may name a file that
 * only a lower layer has. Like overlayfs' copy-up, the file (and any missing parent directories, with
 * their modes and owners) is copied into `root` so the link has something to point at.
 *
 * `lowerDirs` are searched top first, obeying their whiteouts (a 0/0 device hides the path) and opaque
 * directories (nothing below them shows from further down). Paths are taken literally in the lowers: a
 * symlinked parent there is not followed. Returns false if no lower layer has the file.
 */
export async function copyUpFromLower(root: string, path: string, lowerDirs: string[], sameOwner: boolean): Promise<boolean> {
  const source = await findInLowers(path, lowerDirs);
  if (source === undefined) return false;
  for (const ancestor of ancestorsOf(path)) {
    const here = join(root, ancestor);
    const existing = await lstatOrUndefined(here);
    if (existing?.isDirectory()) continue;
    if (existing !== undefined) return false; // something else is in the way: the caller reports it
    const lower = await lstatOrUndefined(join(source.lowerDir, ancestor));
    await mkdir(here, { mode: 0o755 });
    if (lower?.isDirectory()) await copyAttributes(here, lower, sameOwner);
  }
  const dest = join(root, path);
  await copyFile(source.file, dest, constants.COPYFILE_EXCL);
  const stats = await lstatOrUndefined(source.file);
  if (stats) await copyAttributes(dest, stats, sameOwner);
  return true;
}

async function findInLowers(path: string, lowerDirs: string[]): Promise<{ lowerDir: string; file: string } | undefined> {
  for (const lowerDir of lowerDirs) {
    const presentDirs = [lowerDir]; // an opaque layer root hides everything below it too
    for (const ancestor of ancestorsOf(path)) {
      const stats = await lstatOrUndefined(join(lowerDir, ancestor));
      if (stats === undefined) break;
      if (isOverlayWhiteout(stats)) return undefined; // deleted here: hidden from everything below
      if (!stats.isDirectory()) return undefined; // a file replaced the directory here
      presentDirs.push(join(lowerDir, ancestor));
    }
    const file = join(lowerDir, path);
    const stats = await lstatOrUndefined(file);
    if (stats !== undefined) {
      if (isOverlayWhiteout(stats) || !stats.isFile()) return undefined;
      return { lowerDir, file };
    }
    if (await anyOpaque(presentDirs)) return undefined;
  }
  return undefined;
}

/** Whether any of these directories hides what lies below it (one getfattr for all). */
async function anyOpaque(dirs: string[]): Promise<boolean> {
  if (dirs.length === 0) return false;
  try {
    const { stdout } = await run('getfattr', ['--absolute-names', '-n', OPAQUE_XATTR, ...dirs]);
    return stdout.includes(`${OPAQUE_XATTR}="y"`);
  } catch (error: any) {
    // exit 1 when some lack the attribute: what they printed still counts
    return typeof error?.stdout === 'string' && error.stdout.includes(`${OPAQUE_XATTR}="y"`);
  }
}

async function copyAttributes(path: string, stats: { mode: number; uid: number; gid: number; mtime: Date }, sameOwner: boolean) {
  if (sameOwner) await lchown(path, stats.uid, stats.gid);
  await chmod(path, stats.mode & 0o7777);
  await lutimes(path, stats.mtime, stats.mtime);
}
