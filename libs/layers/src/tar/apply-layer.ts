import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, lchown, link, lutimes, mkdir, readdir, rm, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { WhiteoutStyle } from '../changes.js';
import { layerInvalid } from '../errors.js';
import { isOverlayWhiteout, markDeleted, markOpaque } from '../snapshot/whiteouts.js';
import { copyUpFromLower } from './copy-up.js';
import { baseOf, ROOT_PATH } from './entry-paths.js';
import type { LayerDigests, LayerEntry, LayerEntryHeader, ReadLayerOptions } from './layer-entry.js';
import { readLayer } from './layer-reader.js';
import { lstatOrUndefined, RootResolver } from './root-resolver.js';

const run = promisify(execFile);

export interface ApplyProgress {
  entries: number;
  path: string;
}

export interface ApplyLayerOptions extends ReadLayerOptions {
  /** How whiteouts are written: overlayfs' 0/0 devices and opaque xattr, or real deletion. */
  style: WhiteoutStyle;
  /** Overlay style: the unpacked lower layers, top first, where hard link targets may live. */
  lowerDirs?: string[];
  /** Give entries their uid/gid (lchown). Default: when running as root, as tar does. */
  sameOwner?: boolean;
  onProgress?: (progress: ApplyProgress) => void;
}

/**
 * Unpacks a layer blob (plain or gzip) into `targetDir`: a fresh directory (overlay style: the layer's
 * own directory) or a full copy of the layers below (native style). Nothing is written outside
 * `targetDir`: every parent is resolved inside it (see RootResolver). Rejects with the reader's
 * LayerError on a hostile archive; the caller throws the half-written directory away.
 */
export async function applyLayer(source: Readable, targetDir: string, options: ApplyLayerOptions): Promise<LayerDigests> {
  const root = resolve(targetDir);
  await mkdir(root, { recursive: true });
  const reading = readLayer(source, options);
  const applier = new LayerApplier(root, options);
  let entries = 0;
  for await (const entry of reading) {
    await applier.apply(entry);
    options.onProgress?.({ entries: ++entries, path: entry.path });
  }
  await applier.finish();
  return reading.result();
}

class LayerApplier {
  private readonly paths: RootResolver;
  private readonly sameOwner: boolean;
  /** What this layer itself wrote: a native opaque marker must not wipe it. */
  private readonly written = new Set<string>();
  /** Directory metadata is set last: creating children would change mtimes, a 0555 mode block them. */
  private readonly directories: Array<{ abs: string; entry: LayerEntryHeader }> = [];

  constructor(
    private readonly root: string,
    private readonly options: ApplyLayerOptions,
  ) {
    this.paths = new RootResolver(root);
    this.sameOwner = options.sameOwner ?? process.getuid?.() === 0;
  }

  async apply(entry: LayerEntry): Promise<void> {
    if (entry.whiteout) {
      if ('of' in entry.whiteout) await this.remove(entry.whiteout.of);
      else await this.makeOpaque(entry.whiteout.opaque);
      return;
    }
    const place = await this.paths.locate(entry.path, true);
    if (place === undefined) throw new Error(`unreachable: ${entry.path} has no place`);
    const existing = await lstatOrUndefined(place.abs);
    if (existing && !(entry.type === 'dir' && existing.isDirectory()) && place.abs !== this.root) {
      // Replace, never write through: unlinking first also breaks hard links to the old file.
      await rm(place.abs, { recursive: true, force: true });
      if (existing.isDirectory() || existing.isSymbolicLink()) this.paths.invalidate();
    }
    switch (entry.type) {
      case 'dir':
        if (!existing?.isDirectory()) await mkdir(place.abs, { mode: 0o700 });
        this.directories.push({ abs: place.abs, entry });
        break;
      case 'file':
        await pipeline(entry.body, createWriteStream(place.abs, { flags: 'wx', mode: 0o600 }));
        await this.setAttributes(place.abs, entry);
        break;
      case 'symlink':
        await symlink(entry.linkname as string, place.abs);
        this.paths.invalidate();
        await this.setAttributes(place.abs, entry);
        break;
      case 'fifo':
        await run('mkfifo', ['-m', '600', place.abs]); // node has no mkfifo
        await this.setAttributes(place.abs, entry);
        break;
      case 'hardlink':
        await link(await this.hardlinkTarget(entry), place.abs);
        break;
    }
    this.written.add(entry.path);
  }

  /** Directory metadata, deepest first, once all children are in place. */
  async finish(): Promise<void> {
    const depth = (abs: string) => abs.split('/').length;
    const deepestFirst = [...this.directories].sort((a, b) => depth(b.abs) - depth(a.abs));
    for (const { abs, entry } of deepestFirst) {
      // A whiteout later in the same layer may have removed it (meaningless, but not our crash).
      if ((await lstatOrUndefined(abs))?.isDirectory()) await this.setAttributes(abs, entry);
    }
  }

  private async setAttributes(abs: string, entry: LayerEntryHeader): Promise<void> {
    if (this.sameOwner) await lchown(abs, entry.uid, entry.gid);
    // chmod after chown: chown clears setuid/setgid. Symlinks have no mode of their own.
    if (entry.type !== 'symlink') await chmod(abs, entry.mode);
    await lutimes(abs, entry.mtime, entry.mtime);
  }

  private async hardlinkTarget(entry: LayerEntryHeader): Promise<string> {
    const targetPath = entry.linkname as string;
    const missing = () =>
      layerInvalid('PATH_NOT_FOUND', `hard link ${JSON.stringify(entry.path)}: target ${JSON.stringify(targetPath)} is not in this layer or below`, {
        path: entry.path,
        linkname: targetPath,
      });
    let target = await this.paths.locate(targetPath, false);
    let stats = target && (await lstatOrUndefined(target.abs));
    if (stats === undefined && this.options.style === 'overlay' && this.options.lowerDirs?.length) {
      if (await copyUpFromLower(this.root, targetPath, this.options.lowerDirs, this.sameOwner)) {
        target = await this.paths.locate(targetPath, false);
        stats = target && (await lstatOrUndefined(target.abs));
      }
    }
    if (target === undefined || stats === undefined || isOverlayWhiteout(stats)) throw missing();
    if (stats.isDirectory()) {
      throw layerInvalid('UNSUPPORTED_ENTRY', `hard link ${JSON.stringify(entry.path)}: target ${JSON.stringify(targetPath)} is a directory`, {
        path: entry.path,
      });
    }
    return target.abs;
  }

  /** `.wh.<name>`: overlay leaves a 0/0 device (parents made as needed); native deletes what is there. */
  private async remove(path: string): Promise<void> {
    const place = await this.paths.locate(path, this.options.style === 'overlay');
    if (place === undefined) return; // native: nothing there to delete
    await markDeleted(place.dir, baseOf(path), this.options.style);
    this.paths.invalidate();
  }

  /**
   * `.wh..wh..opq`: overlay sets the opaque xattr; native empties the directory of what lower layers put
   * there. The directory is the marker's parent, so a symlink to it is followed (inside the root) like
   * any parent; a file in its place goes.
   */
  private async makeOpaque(path: string): Promise<void> {
    const place = await this.paths.locate(path, true);
    const existing = place && place.abs !== this.root ? await lstatOrUndefined(place.abs) : undefined;
    if (place && existing && !existing.isDirectory() && !existing.isSymbolicLink()) await rm(place.abs, { force: true });
    const dir = (await this.paths.directory(path, true)) as string;
    const keep = this.childrenWrittenUnder(path);
    if (this.options.style === 'native' && keep.size > 0) {
      // Entries of this layer came before the marker: they stay, only the lower ones go.
      for (const child of await readdir(dir)) {
        if (!keep.has(child)) await rm(join(dir, child), { recursive: true, force: true });
      }
    } else {
      await markOpaque(dir, ROOT_PATH, this.options.style);
    }
    this.paths.invalidate();
  }

  /** Names directly under `dir` that this layer wrote (or wrote something beneath). */
  private childrenWrittenUnder(dir: string): Set<string> {
    const prefix = dir === ROOT_PATH ? '' : `${dir}/`;
    const names = new Set<string>();
    for (const path of this.written) {
      if (path !== ROOT_PATH && path.startsWith(prefix)) names.add(path.slice(prefix.length).split('/')[0]);
    }
    return names;
  }
}
