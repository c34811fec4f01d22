import { tarOf, type TarFixtureEntry } from './tar-fixtures.js';

const T1 = new Date('2024-03-01T10:00:00Z');
const T2 = new Date('2024-03-02T10:00:00Z');

/**
 * The base layer: a small tree with every kind of entry a layer may hold — files, an executable,
 * a hard link, a symlink, a fifo, an empty directory, an unprivileged user's home (1000:1000).
 */
export const BASE_LAYER: TarFixtureEntry[] = [
  { name: 'bin/', type: 'directory', mtime: T1 },
  { name: 'bin/tool', body: 'tool v1\n', mode: 0o755, mtime: T1 },
  { name: 'bin/tool-again', type: 'link', linkname: 'bin/tool', mtime: T1 },
  { name: 'bin/sh', type: 'symlink', linkname: 'tool', mode: 0o777, mtime: T1 },
  { name: 'data/', type: 'directory', mtime: T1 },
  { name: 'data/old.txt', body: 'old\n', mtime: T1 },
  { name: 'data/sub/', type: 'directory', mtime: T1 },
  { name: 'data/sub/deep.txt', body: 'deep\n', mtime: T1 },
  { name: 'empty/', type: 'directory', mode: 0o700, mtime: T1 },
  { name: 'etc/', type: 'directory', mtime: T1 },
  { name: 'etc/motd', body: 'Welcome\n', mtime: T1 },
  { name: 'etc/passwd', body: 'root:x:0:0::/root:/bin/sh\n', mtime: T1 },
  { name: 'home/', type: 'directory', mtime: T1 },
  { name: 'home/user/', type: 'directory', mode: 0o700, uid: 1000, gid: 1000, mtime: T1 },
  { name: 'home/user/notes', body: 'mine\n', mode: 0o600, uid: 1000, gid: 1000, mtime: T1 },
  { name: 'run/', type: 'directory', mtime: T1 },
  { name: 'run/pipe', type: 'fifo', mode: 0o620, mtime: T1 },
  { name: 'srv/', type: 'directory', mtime: T1 },
  { name: 'srv/cache/', type: 'directory', mtime: T1 },
  { name: 'srv/cache/item', body: 'cached\n', mtime: T1 },
];

/**
 * The top layer: deletes etc/motd (`.wh.`), replaces data/ by a new directory (opaque marker: old.txt
 * and sub/ disappear), replaces the directory srv/cache by a file (its subtree disappears), and
 * hard-links a file that lives only in the base layer (the overlay style must copy it up).
 */
export const TOP_LAYER: TarFixtureEntry[] = [
  { name: 'bin/', type: 'directory', mtime: T1 },
  { name: 'bin/tool-link2', type: 'link', linkname: 'bin/tool', mtime: T2 },
  { name: 'data/', type: 'directory', mode: 0o750, mtime: T2 },
  { name: 'data/.wh..wh..opq', mtime: T2 },
  { name: 'data/new.txt', body: 'new\n', mtime: T2 },
  { name: 'etc/', type: 'directory', mtime: T1 },
  { name: 'etc/.wh.motd', mtime: T2 },
  { name: 'srv/', type: 'directory', mtime: T1 },
  { name: 'srv/cache', body: 'now a file\n', mtime: T2 },
];

export const twoLayerImage = async (options: { gzip?: boolean } = {}): Promise<[Buffer, Buffer]> => [
  await tarOf(BASE_LAYER, options),
  await tarOf(TOP_LAYER, options),
];
