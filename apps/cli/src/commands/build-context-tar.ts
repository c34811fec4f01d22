/**
 * The build context as the node receives it: the directory as a tar, streamed while it is read (never
 * whole in memory). A Dockerfile from outside the context is added under a name of its own, as Docker
 * does. `.dockerignore` is applied by the node (one implementation of its rules, next to COPY's).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import tar from 'tar-stream';
import { UsageError } from '../errors.js';

export interface ContextUpload {
  chunks: AsyncIterable<Uint8Array>;
  /** The Dockerfile's path inside the tar. */
  dockerfile: string;
}

export async function contextUpload(contextDir: string, dockerfile: string | undefined): Promise<ContextUpload> {
  const root = resolve(contextDir);
  const rootStats = await stat(root).catch(() => undefined);
  if (!rootStats?.isDirectory()) throw new UsageError(`${contextDir}: the build context must be a directory`);
  const file = resolve(dockerfile ?? join(root, 'Dockerfile'));
  const fileStats = await stat(file).catch(() => undefined);
  if (!fileStats?.isFile()) throw new UsageError(`${dockerfile ?? join(contextDir, 'Dockerfile')}: no such Dockerfile (give one with -f)`);
  const inside = file.startsWith(root + sep) ? relative(root, file).split(sep).join('/') : null;
  const name = inside ?? `.dockerfile.${randomBytes(6).toString('hex')}`;
  const pack = tar.pack();
  const fill = async () => {
    try {
      await addTree(pack, root, '');
      if (inside === null) await addFile(pack, file, name);
      pack.finalize();
    } catch (error) {
      pack.destroy(error as Error);
    }
  };
  void fill();
  return { chunks: pack as unknown as AsyncIterable<Uint8Array>, dockerfile: name };
}

async function addTree(pack: tar.Pack, root: string, rel: string): Promise<void> {
  for (const entry of (await readdir(join(root, rel))).sort()) {
    const path = rel ? `${rel}/${entry}` : entry;
    const full = join(root, path);
    const s = await lstat(full);
    const header = { name: path, mode: s.mode & 0o7777, mtime: s.mtime, uid: 0, gid: 0 };
    if (s.isDirectory()) {
      await entryOf(pack, { ...header, type: 'directory' });
      await addTree(pack, root, path);
    } else if (s.isSymbolicLink()) {
      await entryOf(pack, { ...header, type: 'symlink', linkname: await readlink(full) });
    } else if (s.isFile()) {
      await addFile(pack, full, path);
    }
    // Sockets, fifos and devices are not build input: left out, as docker build does.
  }
}

async function addFile(pack: tar.Pack, full: string, name: string): Promise<void> {
  const s = await stat(full);
  await new Promise<void>((done, fail) => {
    const sink = pack.entry({ name, mode: s.mode & 0o7777, mtime: s.mtime, size: s.size, uid: 0, gid: 0, type: 'file' }, (error) => (error ? fail(error) : done()));
    createReadStream(full).on('error', fail).pipe(sink);
  });
}

function entryOf(pack: tar.Pack, header: Parameters<tar.Pack["entry"]>[0]): Promise<void> {
  return new Promise((done, fail) => pack.entry(header, (error) => (error ? fail(error) : done())));
}
