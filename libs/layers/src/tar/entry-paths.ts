import { layerInvalid } from '../errors.js';
import type { Whiteout } from './layer-entry.js';

/** The layer's root directory as an entry path. */
export const ROOT_PATH = '.';
export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
/** aufs' own bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): not a whiteout, skipped like Docker does. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';

const show = (raw: string) => JSON.stringify(raw);

/**
 * "./a//b/" → "a/b", "/etc/passwd" → "etc/passwd" (a leading "/" is stripped, as tar does), "./" → ".".
 * Any ".." component is refused, even one that would stay inside: no honest layer has them.
 */
export function normalizeEntryPath(raw: string): string {
  if (raw.includes('\0')) throw layerInvalid('UNSAFE_PATH', `entry ${show(raw)}: NUL byte in the path`, { path: raw });
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw layerInvalid('UNSAFE_PATH', `entry ${show(raw)}: ".." in the path`, { path: raw });
    parts.push(part);
  }
  return parts.length > 0 ? parts.join('/') : ROOT_PATH;
}

export const parentOf = (path: string): string => {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? ROOT_PATH : path.slice(0, slash);
};
export const baseOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
export const joinPath = (dir: string, name: string): string => (dir === ROOT_PATH ? name : `${dir}/${name}`);

/** Strict ancestors of a path, nearest the root first ("a/b/c" → "a", "a/b"). */
export function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

/** A hard link's target, normalized like an entry path; it must name something inside the root. */
export function normalizeHardlinkTarget(entryPath: string, linkname: string): string {
  const escape = (why: string) =>
    layerInvalid('LINK_ESCAPE', `hard link ${show(entryPath)} -> ${show(linkname)}: ${why}`, { path: entryPath, linkname });
  if (linkname.includes('\0')) throw escape('NUL byte in the target');
  const parts = linkname.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw escape('the target leaves the root');
  if (parts.length === 0) throw escape('the target is the root itself');
  return parts.join('/');
}

/**
 * A symlink may point anywhere absolute: it resolves inside the container's root, and the applier
 * resolves it inside the target directory, never on the host. A relative target must not climb above
 * the root from the directory the link sits in ("a/l -> ../../x" does), since nothing honest does that.
 */
export function checkSymlinkTarget(entryPath: string, target: string): void {
  const escape = (why: string) =>
    layerInvalid('LINK_ESCAPE', `symlink ${show(entryPath)} -> ${show(target)}: ${why}`, { path: entryPath, linkname: target });
  if (target === '') throw escape('empty target');
  if (target.includes('\0')) throw escape('NUL byte in the target');
  if (target.startsWith('/')) return;
  let depth = entryPath === ROOT_PATH ? 0 : entryPath.split('/').length - 1;
  for (const part of target.split('/')) {
    if (part === '..') {
      if (--depth < 0) throw escape('the target climbs above the root');
    } else if (part !== '' && part !== '.') depth++;
  }
}

/** What a whiteout file hides, `'meta'` for aufs bookkeeping, undefined for an ordinary name. */
export function whiteoutOf(path: string): Whiteout | 'meta' | undefined {
  const name = baseOf(path);
  if (!name.startsWith(WHITEOUT_PREFIX)) return undefined;
  const dir = parentOf(path);
  if (name === OPAQUE_MARKER) return { opaque: dir };
  if (name.startsWith(WHITEOUT_META_PREFIX)) return 'meta';
  const hidden = name.slice(WHITEOUT_PREFIX.length);
  if (hidden === '' || hidden === '.' || hidden === '..') {
    throw layerInvalid('UNSAFE_PATH', `whiteout ${show(path)} names no file`, { path });
  }
  return { of: joinPath(dir, hidden) };
}
