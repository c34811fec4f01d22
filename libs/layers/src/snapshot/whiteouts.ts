import { execFile } from 'node:child_process';
import type { Stats } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { WhiteoutStyle } from '../changes.js';

const run = promisify(execFile);

/**
 * Deletions inside a writable layer directory, in the two styles snapshotters need.
 *
 * overlayfs marks a deleted lower file with a character device 0/0 of the same name, and a directory
 * that hides all lower children with the xattr `trusted.overlay.opaque=y`. Node has neither mknod nor
 * xattrs, so these go through mknod(1) (coreutils) and setfattr/getfattr(1) (Debian's `attr`): deletions
 * are rare in layers, so a process per whiteout is cheap next to the file copies around it.
 * The native style deletes for real, since a native snapshot is a full copy of its parent.
 */
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** `rel` is relative to `dir` and already checked to be safe (no `..`, no absolute path). */
export async function markDeleted(dir: string, rel: string, style: WhiteoutStyle): Promise<void> {
  const target = join(dir, rel);
  await rm(target, { recursive: true, force: true });
  if (style === 'native') return;
  await mkdir(dirname(target), { recursive: true });
  await run('mknod', [target, 'c', '0', '0']);
}

/** Makes `rel` a directory whose lower children are hidden (an opaque directory). */
export async function markOpaque(dir: string, rel: string, style: WhiteoutStyle): Promise<void> {
  const target = join(dir, rel);
  await mkdir(target, { recursive: true });
  if (style === 'native') {
    for (const child of await readdir(target)) await rm(join(target, child), { recursive: true, force: true });
    return;
  }
  await run('setfattr', ['-n', OPAQUE_XATTR, '-v', 'y', target]);
}

/** An overlayfs whiteout: a character device with device number 0/0. */
export const isOverlayWhiteout = (stats: Stats): boolean => stats.isCharacterDevice() && stats.rdev === 0;

/**
 * Every opaque directory under `root`, as paths relative to it ("" for root itself), found with one
 * getfattr run rather than one per directory.
 */
export async function opaqueDirectories(root: string): Promise<Set<string>> {
  const found = new Set<string>();
  let dump: string;
  try {
    ({ stdout: dump } = await run('getfattr', ['-R', '-P', '--absolute-names', '-n', OPAQUE_XATTR, root], { maxBuffer: 64 * 1024 * 1024 }));
  } catch (error: any) {
    if (error?.code === 'ENOENT') throw new Error('getfattr not found: install Debian\'s "attr" package for the overlay snapshotter', { cause: error });
    // getfattr exits 1 when some files lack the attribute, the normal case; it still prints the others.
    dump = typeof error?.stdout === 'string' ? error.stdout : '';
  }
  // "# file: <path>" then "trusted.overlay.opaque=\"y\"". Only "y" is opaque: "x" (kernel 6.7+) marks a directory holding xattr whiteouts.
  let rel: string | undefined;
  for (const line of dump.split('\n')) {
    if (line.startsWith('# file: ')) {
      const file = unescapeGetfattr(line.slice('# file: '.length));
      rel = file === root ? '' : file.startsWith(root + '/') ? file.slice(root.length + 1) : undefined;
    } else if (line === `${OPAQUE_XATTR}="y"` && rel !== undefined) {
      found.add(rel);
    }
  }
  return found;
}

/** getfattr escapes unusual bytes in names as octal (\012); undo it. */
function unescapeGetfattr(name: string): string {
  return name.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
