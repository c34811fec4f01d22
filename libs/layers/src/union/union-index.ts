import type { Readable } from 'node:stream';
import { ancestorsOf, ROOT_PATH } from '../tar/entry-paths.js';
import type { LayerEntryType, ReadLayerOptions } from '../tar/layer-entry.js';
import { readLayer } from '../tar/layer-reader.js';

/** Opens one layer blob (gzip or plain) from the start. */
export type LayerOpener = () => Readable;

/** A path of the merged image, as `ls -l` would describe it. Paths are absolute ("/etc/motd"). */
export interface UnionEntry {
  path: string;
  type: LayerEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Symlinks: the target as written. Hard links: the absolute path of the file linked to. */
  linkname?: string;
  mtime: Date;
}

/**
 * Where an entry came from: the layer (0 = bottom) and, for hard links, whether that layer holds the
 * target. A hard link carries its target's mode, owner, size and time (it is the same inode).
 */
export interface IndexedEntry extends UnionEntry {
  layer: number;
  targetInSameLayer?: boolean;
}

type FileMeta = Pick<UnionEntry, 'mode' | 'uid' | 'gid' | 'size' | 'mtime'>;
const pick = ({ mode, uid, gid, size, mtime }: FileMeta): FileMeta => ({ mode, uid, gid, size, mtime });

const IMPLICIT_DIR = { type: 'dir' as const, mode: 0o755, uid: 0, gid: 0, size: 0, mtime: new Date(0), layer: -1 };

/**
 * The merged metadata of a stack of layers, keyed by relative path ("." is the root), built by reading
 * every layer's headers once, top layer first. A path is taken from the highest layer that has it;
 * lower layers' entries are dropped when a higher layer hid them: `.wh.name` hides name and its subtree,
 * `.wh..wh..opq` hides every lower child of its directory, a non-directory hides the lower subtree at
 * its path. A layer's whiteouts never hide its own entries (OCI image spec), so they count from the
 * next layer down. Directories that no layer lists but that have children are filled in.
 */
export async function buildUnionIndex(layers: LayerOpener[], options: ReadLayerOptions): Promise<Map<string, IndexedEntry>> {
  const merged = new Map<string, IndexedEntry>();
  const hiddenSubtrees = new Set<string>();
  const opaqueDirs = new Set<string>();
  const isHidden = (path: string) => {
    if (hiddenSubtrees.has(path)) return true;
    if (path !== ROOT_PATH && opaqueDirs.has(ROOT_PATH)) return true;
    return ancestorsOf(path).some((dir) => hiddenSubtrees.has(dir) || opaqueDirs.has(dir));
  };

  for (let layer = layers.length - 1; layer >= 0; layer--) {
    const hides: string[] = [];
    const opaques: string[] = [];
    const files = new Map<string, FileMeta>(); // this layer's files, for its hard links
    // Stored blobs, verified when they were stored: nothing to hash.
    for await (const entry of readLayer(layers[layer](), { ...options, hash: 'none' })) {
      if (entry.whiteout) {
        if ('of' in entry.whiteout) hides.push(entry.whiteout.of);
        else opaques.push(entry.whiteout.opaque);
        continue;
      }
      if (entry.type === 'file') files.set(entry.path, { mode: entry.mode, uid: entry.uid, gid: entry.gid, size: entry.size, mtime: entry.mtime });
      if (entry.type !== 'dir') hides.push(entry.path);
      if (merged.has(entry.path) || isHidden(entry.path)) continue; // a higher layer decided this path
      const indexed: IndexedEntry = {
        path: absolute(entry.path),
        type: entry.type,
        mode: entry.mode,
        uid: entry.uid,
        gid: entry.gid,
        size: entry.size,
        mtime: entry.mtime,
        layer,
      };
      if (entry.type === 'symlink') indexed.linkname = entry.linkname;
      if (entry.type === 'hardlink') {
        const target = files.get(entry.linkname as string); // tar writes a link after its file
        indexed.linkname = absolute(entry.linkname as string);
        indexed.targetInSameLayer = target !== undefined;
        if (target) Object.assign(indexed, target); // one inode: the link shows the file's metadata
      }
      merged.set(entry.path, indexed);
    }
    for (const path of hides) hiddenSubtrees.add(path);
    for (const path of opaques) opaqueDirs.add(path);
  }

  for (const entry of merged.values()) {
    // Linked to a lower layer's file: show that file's metadata, as far as the merged view still has it.
    const target = entry.type === 'hardlink' && !entry.targetInSameLayer ? merged.get((entry.linkname as string).slice(1)) : undefined;
    if (target?.type === 'file') Object.assign(entry, pick(target));
  }
  for (const path of [...merged.keys()]) {
    for (const dir of [ROOT_PATH, ...ancestorsOf(path)]) {
      if (!merged.has(dir)) merged.set(dir, { ...IMPLICIT_DIR, path: absolute(dir) });
    }
  }
  if (!merged.has(ROOT_PATH)) merged.set(ROOT_PATH, { ...IMPLICIT_DIR, path: '/' });
  return merged;
}

export const absolute = (path: string): string => (path === ROOT_PATH ? '/' : `/${path}`);
