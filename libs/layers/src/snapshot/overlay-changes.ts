import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { Change } from '../changes.js';
import { byPath, directoryMetadataDiffers, fileTypeOf, isWhiteout, lstatOrUndefined, rootPath, sortedNames } from './file-tree.js';

/** A layer below the one being diffed: its directory and its opaque directories (relative paths, "" = its root). */
export interface LowerLayer {
  dir: string;
  opaque: ReadonlySet<string>;
}

/** The lower layers' directories that make up one merged directory, topmost first. */
type Stack = Array<{ dir: string; layer: LowerLayer }>;

/**
 * What an overlay layer (`upper`) changes over its lower layers (topmost first), as `docker diff` reports
 * it for overlay2: a whiteout is D (only if something is there to delete); an opaque directory that
 * replaces a lower directory is C with `opaque`; anything else is C if the merged lower view has that path,
 * A if not. A directory that is only in the upper layer because something below it was copied up is not a
 * change: it is C only when its own mode, owner or mtime differ (copy-up keeps them) or, like Docker, when
 * a child of it was added or deleted. Children of a directory that hides the lower ones are all A.
 *
 * The lower view is resolved the way overlayfs resolves it: a whiteout or a non-directory in a layer hides
 * the path in all layers below, an opaque directory hides the layers below it.
 */
export async function overlayChanges(upper: string, upperOpaque: ReadonlySet<string>, lowers: LowerLayer[]): Promise<Change[]> {
  const changes: Change[] = [];
  const rootStack: Stack = [];
  if (!upperOpaque.has('')) {
    for (const layer of lowers) {
      rootStack.push({ dir: layer.dir, layer });
      if (layer.opaque.has('')) break;
    }
  }

  /** Walks one upper directory; says whether a direct child was added or deleted (Docker's parent rule). */
  const walk = async (rel: string, stack: Stack): Promise<boolean> => {
    let addedOrDeleted = false;
    for (const name of await sortedNames(join(upper, rel))) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const stats = await lstatOrUndefined(join(upper, path));
      if (!stats) continue; // gone while we looked (a running container)
      const { below, childStack } = await lookUp(stack, name, path);
      if (isWhiteout(stats)) {
        if (below) changes.push({ kind: 'D', path: rootPath(path), type: fileTypeOf(below) });
        addedOrDeleted ||= below !== undefined;
        continue;
      }
      const type = fileTypeOf(stats);
      if (!below) {
        changes.push({ kind: 'A', path: rootPath(path), type });
        addedOrDeleted = true;
        if (stats.isDirectory()) await walk(path, []);
      } else if (!stats.isDirectory()) {
        changes.push({ kind: 'C', path: rootPath(path), type });
      } else if (!below.isDirectory()) {
        changes.push({ kind: 'C', path: rootPath(path), type }); // a directory where a file was: nothing below it to merge
        await walk(path, []);
      } else if (upperOpaque.has(path)) {
        changes.push({ kind: 'C', path: rootPath(path), type, opaque: true });
        await walk(path, []);
      } else {
        const childAddedOrDeleted = await walk(path, childStack);
        if (childAddedOrDeleted || directoryMetadataDiffers(stats, below)) changes.push({ kind: 'C', path: rootPath(path), type });
      }
    }
    return addedOrDeleted;
  };

  await walk('', rootStack);
  return changes.sort(byPath);
}

/** `name` in the merged lower view of a directory: what is visible, and the stack for it if it is a directory. */
async function lookUp(stack: Stack, name: string, path: string): Promise<{ below?: BigIntStats; childStack: Stack }> {
  let below: BigIntStats | undefined;
  const childStack: Stack = [];
  for (const { dir, layer } of stack) {
    const stats = await lstatOrUndefined(join(dir, name));
    if (!stats) continue;
    if (isWhiteout(stats)) break;
    below ??= stats;
    if (!stats.isDirectory()) break; // a non-directory hides whatever is below it
    childStack.push({ dir: join(dir, name), layer });
    if (layer.opaque.has(path)) break;
  }
  return { below, childStack };
}
