/**
 * `strata load -i <dir>`: an OCI image layout directory sent as a tar built on the fly, never staged on
 * disk or in memory. The tree is checked completely before the first byte is sent, so a bad layout is
 * a usage error, not a half-sent upload.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import tar from 'tar-stream';
import { LocalError, UsageError } from './errors.js';
import type { UploadStream } from './upload-source.js';

interface LayoutEntry {
  /** Path inside the archive, '/'-separated. */
  name: string;
  type: 'file' | 'directory';
  /** Where the bytes are read from (a symlink's target, for a symlink inside the layout). */
  source: string;
  size: number;
  mode: number;
  mtime: Date;
}

/** The marker files of what the node can load: an OCI image layout, or an extracted `docker save`. */
const MARKERS = ['oci-layout', 'manifest.json'];

const BLOCK = 512;
const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

/** Whether `path` is a directory (load then sends it as a layout) rather than an archive file. */
export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

/** The layout at `dir` as an upload: a tar stream and its (estimated) size. */
export async function layoutUpload(dir: string): Promise<UploadStream> {
  const root = await realpath(dir);
  const top = await readdir(root);
  if (!MARKERS.some((m) => top.includes(m))) {
    throw new UsageError(`${dir}: not an OCI image layout (no oci-layout file) nor an extracted docker save archive (no manifest.json)`);
  }
  const entries = await scan(root, root, '', new Set([root]));
  // Headers, contents padded to whole blocks, the two zero blocks at the end. Long names would add pax
  // headers: the progress bar allows for a total that falls short.
  const size = entries.reduce((sum, e) => sum + BLOCK + padded(e.size), 0) + 2 * BLOCK;
  return { chunks: packEntries(entries), size, contentType: 'application/x-tar' };
}

/** Every directory and regular file under `dir`, in a stable order; symlinks only if they stay inside. */
async function scan(root: string, dir: string, prefix: string, visited: Set<string>): Promise<LayoutEntry[]> {
  const out: LayoutEntry[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    const entryName = prefix ? `${prefix}/${name}` : name;
    let source = path;
    let stats = await lstat(path);
    if (stats.isSymbolicLink()) {
      source = await realpath(path).catch(() => {
        throw new UsageError(`${entryName}: a symlink whose target does not exist`);
      });
      if (!isInside(root, source)) throw new UsageError(`${entryName}: a symlink that points out of the layout (to ${source}): refused`);
      stats = await stat(source);
    }
    if (stats.isDirectory()) {
      // A symlink back up the tree would make the walk endless.
      if (visited.has(source)) throw new UsageError(`${entryName}: a symlink loop`);
      out.push({ name: entryName, type: 'directory', source, size: 0, mode: stats.mode & 0o777, mtime: stats.mtime });
      out.push(...(await scan(root, source, entryName, new Set([...visited, source]))));
    } else if (stats.isFile()) {
      out.push({ name: entryName, type: 'file', source, size: stats.size, mode: stats.mode & 0o777, mtime: stats.mtime });
    } else {
      throw new UsageError(`${entryName}: neither a regular file nor a directory (an image layout holds only those)`);
    }
  }
  return out;
}

const isInside = (root: string, path: string): boolean => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
};

/** The tar, produced as it is read: tar-stream's backpressure keeps one chunk of one file in flight. */
function packEntries(entries: readonly LayoutEntry[]): AsyncIterable<Uint8Array> {
  const pack = tar.pack();
  void (async () => {
    for (const entry of entries) await addEntry(pack, entry);
    pack.finalize();
  })().catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    pack.destroy(new LocalError(`the layout could not be read while being sent (it changed?): ${message}`, { cause: error }));
  });
  // streamx readables are async iterable (and throw the destroy error); its typings do not say so.
  return pack as unknown as AsyncIterable<Uint8Array>;
}

async function addEntry(pack: tar.Pack, entry: LayoutEntry): Promise<void> {
  const header = { name: entry.name, type: entry.type, mode: entry.mode, mtime: entry.mtime, uid: 0, gid: 0, size: entry.size };
  let settle!: { resolve: () => void; reject: (error: Error) => void };
  const written = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const sink = pack.entry(header, (error) => (error ? settle.reject(error) : settle.resolve()));
  if (entry.type === 'file' && entry.size > 0) {
    try {
      for await (const chunk of createReadStream(entry.source)) {
        if (!sink.write(chunk as Buffer)) await drained(sink);
      }
    } catch (error) {
      sink.destroy(error as Error);
      throw error;
    }
  }
  sink.end(undefined);
  await written;
}

/** tar-stream's streams (streamx) emit 'drain' like Node's; 'close' too when destroyed meanwhile. */
function drained(stream: { once(event: string, listener: () => void): unknown; off(event: string, listener: () => void): unknown }) {
  return new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}
