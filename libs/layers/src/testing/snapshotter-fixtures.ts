import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, link, lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { WhiteoutStyle } from '../changes.js';
import type { Mount, Snapshotter } from '../snapshot/port.js';
import { markDeleted, markOpaque, opaqueDirectories } from '../snapshot/whiteouts.js';

const run = promisify(execFile);

/** One entry of a layer as a test writes it, in the order an unpacker would meet it in a tar. */
export type LayerEntry = { path: string } & (
  | { file: string; mode?: number; uid?: number; gid?: number }
  | { dir: true; mode?: number; uid?: number; gid?: number }
  | { symlink: string }
  | { hardlink: string }
  | { fifo: true; mode?: number }
  | { delete: true }
  | { opaque: true; mode?: number }
);

/**
 * Writes entries into a writable layer directory the way a layer unpacker does: whatever is at a path is
 * replaced, parents are created as needed, deletions go through markDeleted/markOpaque in `style`.
 * Owner before mode, since chown clears setuid/setgid.
 */
export async function writeLayer(dir: string, style: WhiteoutStyle, entries: LayerEntry[]): Promise<void> {
  for (const entry of entries) {
    const target = join(dir, entry.path);
    if ('delete' in entry) {
      await markDeleted(dir, entry.path, style);
      continue;
    }
    if ('opaque' in entry) {
      await markOpaque(dir, entry.path, style);
      if (entry.mode !== undefined) await chmod(target, entry.mode);
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    const existing = await lstat(target).catch(() => undefined);
    if (existing && !('dir' in entry && existing.isDirectory())) await rm(target, { recursive: true, force: true });
    if ('file' in entry) await writeFile(target, entry.file);
    else if ('dir' in entry) await mkdir(target, { recursive: true });
    else if ('symlink' in entry) await symlink(entry.symlink, target);
    else if ('hardlink' in entry) await link(join(dir, entry.hardlink), target);
    else if ('fifo' in entry) await run('mkfifo', [target]);
    if ('uid' in entry && entry.uid !== undefined) await chown(target, entry.uid, entry.gid ?? entry.uid);
    if ('mode' in entry && entry.mode !== undefined) await chmod(target, entry.mode);
  }
}

/** A committed layer `key` on `parent`, built as an unpacker builds one: prepare, write, commit. */
export async function commitLayer(s: Snapshotter, key: string, parent: string | undefined, fill: (dir: string, style: WhiteoutStyle) => Promise<void>): Promise<void> {
  const active = `extract-${key}`;
  await s.prepare(active, parent);
  const { dir, style } = await s.writable(active);
  await fill(dir, style);
  await s.commit(key, active);
}

/** The directories a snapshot's mounts read from (overlay's lowerdirs, or a bind's source). */
export function layerDirs(mounts: Mount[]): string[] {
  return mounts.flatMap((m) => {
    if (m.type === 'bind') return [m.source];
    const lower = m.options.find((o) => o.startsWith('lowerdir='));
    return lower ? lower.slice('lowerdir='.length).split(':') : [];
  });
}

/**
 * A digest of a directory tree that changes if any byte of it does: every path with its type, mode,
 * owner, size, mtime (ns), device number, content or link target, and overlay's opaque xattr.
 */
export async function hashTree(root: string): Promise<string> {
  const hash = createHash('sha256');
  const opaque = await opaqueDirectories(root);
  const visit = async (rel: string): Promise<void> => {
    const path = join(root, rel);
    const st = await lstat(path, { bigint: true });
    hash.update(`${rel}\0${st.mode}\0${st.uid}\0${st.gid}\0${st.size}\0${st.mtimeNs}\0${st.rdev}\0${opaque.has(rel)}\0`);
    if (st.isFile()) hash.update(await readFile(path));
    else if (st.isSymbolicLink()) hash.update(await readlink(path));
    else if (st.isDirectory()) for (const name of (await readdir(path)).sort()) await visit(rel === '' ? name : `${rel}/${name}`);
  };
  await visit('');
  return hash.digest('hex');
}

/** Permission bits (with setuid/setgid/sticky) of what is at `path`, not following a symlink. */
export const modeOf = async (path: string): Promise<number> => (await lstat(path)).mode & 0o7777;
