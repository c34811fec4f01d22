import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { Change } from '../changes.js';
import { byPath, directoryMetadataDiffers, entryDiffers, fileTypeOf, lstatOrUndefined, rootPath, sortedNames } from './file-tree.js';

/**
 * What `current` changes relative to `parent` (undefined: an empty tree), by comparing the two trees with
 * lstat: a path only in `current` is A (and so is everything under it), only in `parent` is D (once for a
 * whole directory), in both is C when the type, mode, owner, size, mtime (ns), device or symlink target
 * differ. A file that became a directory is C and its children A.
 *
 * Directories follow the same rule as the overlay snapshotter (Docker's overlay2 `docker diff`): C when
 * their own mode, owner or mtime changed, or a child was added or deleted, not merely because something
 * deeper changed. (Docker's vfs driver would also list every ancestor; the two snapshotters agree instead.)
 */
export async function treeChanges(current: string, parent: string | undefined): Promise<Change[]> {
  const changes: Change[] = [];

  const walk = async (rel: string, compareWith: string | undefined): Promise<boolean> => {
    const names = await sortedNames(join(current, rel));
    const before = compareWith === undefined ? [] : await sortedNames(join(compareWith, rel));
    const present = new Set(names);
    let addedOrDeleted = false;
    for (const name of before) {
      if (present.has(name)) continue;
      const gone = await lstatOrUndefined(join(compareWith!, rel, name));
      if (gone) changes.push({ kind: 'D', path: rootPath(join(rel, name)), type: fileTypeOf(gone) });
      addedOrDeleted = true;
    }
    const had = new Set(before);
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const now = await lstatOrUndefined(join(current, path));
      if (!now) continue; // gone while we looked
      const old: BigIntStats | undefined = had.has(name) ? await lstatOrUndefined(join(compareWith!, path)) : undefined;
      const type = fileTypeOf(now);
      if (!old) {
        changes.push({ kind: 'A', path: rootPath(path), type });
        addedOrDeleted = true;
        if (now.isDirectory()) await walk(path, undefined);
      } else if (type !== fileTypeOf(old)) {
        changes.push({ kind: 'C', path: rootPath(path), type });
        if (now.isDirectory()) await walk(path, undefined);
      } else if (now.isDirectory()) {
        const childAddedOrDeleted = await walk(path, compareWith);
        if (childAddedOrDeleted || directoryMetadataDiffers(now, old)) changes.push({ kind: 'C', path: rootPath(path), type });
      } else if (await entryDiffers(now, join(current, path), old, join(compareWith!, path))) {
        changes.push({ kind: 'C', path: rootPath(path), type });
      }
    }
    return addedOrDeleted;
  };

  await walk('', parent);
  return changes.sort(byPath);
}
