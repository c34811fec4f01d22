import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Change } from '../changes.js';
import { layerInvalid } from '../errors.js';
import { baseOf, joinPath, normalizeEntryPath, OPAQUE_MARKER, parentOf, ROOT_PATH, WHITEOUT_PREFIX } from './entry-paths.js';
import { lstatOrUndefined, RootResolver } from './root-resolver.js';
import { drainedOrClosed } from './stream-waits.js';

/** Whiteouts carry no metadata of their own: fixed values keep the layer deterministic. */
const WHITEOUT_TIME = new Date(0);

type Planned = { name: string; kind: 'path' | 'whiteout' };

/**
 * An uncompressed OCI layer tar of `changes` (as a snapshotter reports them, paths absolute in the
 * root) read from `rootDir`: D → `.wh.<name>`; an opaque directory → its entry then `.wh..wh..opq`;
 * A/C → the path itself with mode/uid/gid/mtime from lstat (for a directory only its own entry: changed
 * children have their own changes). Files sharing an inode are written once, then as hard links.
 * Entries are sorted (parents first, a directory's subtree together), so the same tree gives the same bytes.
 * Sockets and device nodes are left out: no layer may carry them.
 */
export function writeLayer(rootDir: string, changes: Change[]): Readable {
  return packLayer(rootDir, async () => changes);
}

/** Every file under `dir` as one layer (nothing deleted): `docker import`'s layer, or a build's. */
export function writeTreeLayer(dir: string): Readable {
  return packLayer(dir, async () => (await listTree(dir)).map((path): Change => ({ kind: 'A', path: `/${path}` })));
}

/** Errors (bad changes, vanished files) arrive as the stream's error, never as a throw. */
function packLayer(rootDir: string, changes: () => Promise<Change[]>): Readable {
  const pack = tar.pack();
  // Its errors reach the consumer through the stream returned below; unlistened they would crash.
  pack.on('error', () => {});
  const fill = async () => produce(rootDir, planEntries(await changes()), pack);
  fill().catch((error: Error) => pack.destroy(error));
  return Readable.from(pack, { objectMode: false });
}

/** gzip for a layer blob. Node's gzip header has no timestamp, so this stays deterministic. */
export function gzipLayer(tarStream: Readable): Readable {
  const gzip = createGzip();
  pipeline(tarStream, gzip, () => {});
  return gzip;
}

function planEntries(changes: Change[]): Planned[] {
  const plan: Planned[] = [];
  for (const change of changes) {
    const path = normalizeEntryPath(change.path);
    if (path === ROOT_PATH) continue; // the root's own metadata is not part of a diff
    if (change.kind === 'D') {
      plan.push({ name: joinPath(parentOf(path), WHITEOUT_PREFIX + baseOf(path)), kind: 'whiteout' });
      continue;
    }
    if (baseOf(path).startsWith(WHITEOUT_PREFIX)) {
      throw layerInvalid('UNSUPPORTED_ENTRY', `${JSON.stringify(change.path)}: names starting with ".wh." are reserved for whiteouts`, {
        path: change.path,
      });
    }
    plan.push({ name: path, kind: 'path' });
    if (change.opaque) plan.push({ name: `${path}/${OPAQUE_MARKER}`, kind: 'whiteout' });
  }
  plan.sort((a, b) => compareTarNames(a.name, b.name));
  for (let i = 1; i < plan.length; i++) {
    if (plan[i].name === plan[i - 1].name) {
      throw layerInvalid('DUPLICATE_ENTRY', `${JSON.stringify(plan[i].name)} would appear twice in the layer`, { path: plan[i].name });
    }
  }
  return plan;
}

/** Component by component, the opaque marker first among its siblings (so it precedes the layer's own children). */
function compareTarNames(a: string, b: string): number {
  const left = a.split('/');
  const right = b.split('/');
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    if (left[i] === right[i]) continue;
    if (left[i] === OPAQUE_MARKER) return -1;
    if (right[i] === OPAQUE_MARKER) return 1;
    return left[i] < right[i] ? -1 : 1;
  }
  return left.length - right.length;
}

async function produce(rootDir: string, plan: Planned[], pack: tar.Pack): Promise<void> {
  const firstNameOfInode = new Map<string, string>();
  const paths = new RootResolver(rootDir);
  for (const { name, kind } of plan) {
    if (kind === 'whiteout') {
      await addEntry(pack, { name, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: WHITEOUT_TIME });
      continue;
    }
    const abs = join(rootDir, name);
    // A change under a symlinked directory would read whatever it points at, perhaps the host's files.
    const place = await paths.locate(name, false);
    const escapes = place === undefined ? (await lstatOrUndefined(abs)) !== undefined : place.abs !== abs;
    if (escapes) {
      throw layerInvalid('UNSAFE_PATH', `${JSON.stringify(`/${name}`)}: a parent directory is a symlink`, { path: `/${name}` });
    }
    const stats = await lstat(abs);
    const header = { name, mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid, mtime: stats.mtime };
    if (stats.isDirectory()) {
      await addEntry(pack, { ...header, type: 'directory' });
    } else if (stats.isSymbolicLink()) {
      await addEntry(pack, { ...header, type: 'symlink', linkname: await readlink(abs) });
    } else if (stats.isFIFO()) {
      await addEntry(pack, { ...header, type: 'fifo' });
    } else if (stats.isFile()) {
      const inode = `${stats.dev}:${stats.ino}`;
      const first = stats.nlink > 1 ? firstNameOfInode.get(inode) : undefined;
      if (first !== undefined) {
        await addEntry(pack, { ...header, type: 'link', linkname: first });
      } else {
        if (stats.nlink > 1) firstNameOfInode.set(inode, name);
        await addEntry(pack, { ...header, type: 'file', size: stats.size }, createReadStream(abs, { start: 0, end: Math.max(stats.size - 1, 0) }), stats.size);
      }
    }
    // sockets and devices: left out (see above)
  }
  pack.finalize();
}

/** One entry, its body streamed with backpressure; resolves once tar-stream has taken it whole. */
async function addEntry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }, body?: Readable, size = 0): Promise<void> {
  let settle!: { resolve: () => void; reject: (error: Error) => void };
  const written = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  written.catch(() => {}); // may fail while the body is still being read; awaited below

  const sink = pack.entry(header, (error) => (error ? settle.reject(error) : settle.resolve()));
  sink.on('error', () => {}); // reported through the callback above
  if (body && size > 0) {
    try {
      for await (const chunk of body) {
        if (sink.destroying) break; // the reader of the layer went away: stop reading the file
        if (!sink.write(chunk)) await drainedOrClosed(sink);
      }
    } catch (error) {
      sink.destroy(error as Error);
      throw error;
    }
  } else {
    body?.destroy();
  }
  sink.end(undefined);
  await written;
}

/** Every path under `dir`, relative, without following symlinks. */
async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    out.push(path);
    if (entry.isDirectory()) out.push(...(await listTree(dir, path)));
  }
  return out;
}
