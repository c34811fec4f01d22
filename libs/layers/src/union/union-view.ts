import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { layerInvalid, layerNotFound } from '../errors.js';
import { ROOT_PATH } from '../tar/entry-paths.js';
import type { ReadLayerOptions } from '../tar/layer-entry.js';
import { readLayer } from '../tar/layer-reader.js';
import { buildUnionIndex, type IndexedEntry, type LayerOpener, type UnionEntry } from './union-index.js';

/** Linux's limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 40;

export interface UnionListOptions {
  /** Everything below the directory, not just its children. */
  recursive?: boolean;
}

/**
 * An image's filesystem read straight from its layer blobs, without unpacking: what `ls-files` and `cat`
 * show. Layers are given bottom first. The first call reads every layer's headers once to build the
 * merged index (metadata only); readFile then streams the one entry it needs from the one layer that
 * has it. Paths are absolute inside the image; symlinks are followed inside the image, never the host.
 */
export class UnionView {
  private index?: Promise<{ entries: Map<string, IndexedEntry>; sorted: string[] }>;

  constructor(
    private readonly layers: LayerOpener[],
    private readonly options: ReadLayerOptions = {},
  ) {}

  /**
   * The entries of a directory (following symlinks to it), sorted by path; with `recursive`, its whole
   * subtree. A file (or other non-directory) lists as itself. PATH_NOT_FOUND if there is no such path.
   */
  async list(path = '/', options: UnionListOptions = {}): Promise<UnionEntry[]> {
    const { entries, sorted } = await this.loadIndex();
    const [key, entry] = this.resolve(entries, path);
    if (entry.type !== 'dir') return [publicEntry(entry)];
    const prefix = key === ROOT_PATH ? '' : `${key}/`;
    const out: UnionEntry[] = [];
    for (let i = lowerBound(sorted, prefix); i < sorted.length && sorted[i].startsWith(prefix); i++) {
      const child = sorted[i];
      if (child === ROOT_PATH || child === key) continue;
      if (!options.recursive && child.indexOf('/', prefix.length) >= 0) continue;
      out.push(publicEntry(entries.get(child) as IndexedEntry));
    }
    return out;
  }

  /**
   * A regular file's bytes, streamed from the layer that holds it (symlinks followed, hard links read
   * from their target). PATH_NOT_FOUND, or NOT_A_FILE for a directory or fifo, before any byte is read.
   */
  async readFile(path: string): Promise<Readable> {
    const { entries } = await this.loadIndex();
    const [key, entry] = this.resolve(entries, path);
    if (entry.type !== 'file' && entry.type !== 'hardlink') {
      throw layerInvalid('NOT_A_FILE', `${JSON.stringify(path)} is a ${entry.type === 'dir' ? 'directory' : entry.type}, not a file`, { path });
    }
    if (entry.type === 'hardlink') {
      const target = (entry.linkname as string).slice(1);
      if (entry.targetInSameLayer) return this.streamEntry(entry.layer, target);
      // linked to a file of a lower layer: read it as those layers show it
      return new UnionView(this.layers.slice(0, entry.layer), this.options).readFile(`/${target}`);
    }
    return this.streamEntry(entry.layer, key);
  }

  private loadIndex() {
    this.index ??= buildUnionIndex(this.layers, this.options).then(
      (entries) => ({ entries, sorted: [...entries.keys()].sort() }),
      (error: unknown) => {
        this.index = undefined; // let a later call try again
        throw error;
      },
    );
    return this.index;
  }

  /** Walks `path` component by component inside the image, following symlinks ("/" restarts at the image's root). */
  private resolve(entries: Map<string, IndexedEntry>, path: string): [string, IndexedEntry] {
    const notFound = (why = 'no such file or directory') => layerNotFound('PATH_NOT_FOUND', `${JSON.stringify(path)}: ${why}`, { path });
    const pending = path.split('/');
    const resolved: string[] = [];
    let symlinks = 0;
    let current = entries.get(ROOT_PATH) as IndexedEntry;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        resolved.pop(); // never above the image's root
        current = entries.get(resolved.length ? resolved.join('/') : ROOT_PATH) as IndexedEntry;
        continue;
      }
      if (current.type !== 'dir') throw notFound(`${current.path} is not a directory`);
      const key = [...resolved, part].join('/');
      const entry = entries.get(key);
      if (entry === undefined) throw notFound();
      if (entry.type === 'symlink') {
        if (++symlinks > MAX_SYMLINKS) throw notFound('too many levels of symbolic links');
        const target = entry.linkname as string;
        if (target.startsWith('/')) resolved.length = 0;
        current = entries.get(resolved.length ? resolved.join('/') : ROOT_PATH) as IndexedEntry;
        pending.unshift(...target.split('/'));
        continue;
      }
      resolved.push(part);
      current = entry;
    }
    return [resolved.length ? resolved.join('/') : ROOT_PATH, current];
  }

  /** Streams one entry's body out of one layer, then stops reading that layer. */
  private streamEntry(layer: number, key: string): Readable {
    const out = new PassThrough();
    const copy = async () => {
      // Stored blobs, verified when they were stored: nothing to hash.
      for await (const entry of readLayer(this.layers[layer](), { ...this.options, hash: 'none' })) {
        if (entry.path === key && !entry.whiteout) {
          await pipeline(entry.body, out);
          return; // leaving the loop closes the layer stream
        }
      }
      throw layerNotFound('PATH_NOT_FOUND', `/${key}: not in layer ${layer} after all`, { path: `/${key}`, layer });
    };
    copy().catch((error: Error) => out.destroy(error));
    return out;
  }
}

function publicEntry(entry: IndexedEntry): UnionEntry {
  const { layer: _layer, targetInSameLayer: _same, ...rest } = entry;
  return rest;
}

/** First index whose key is >= prefix. */
function lowerBound(sorted: string[], prefix: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid] < prefix) low = mid + 1;
    else high = mid;
  }
  return low;
}
