import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LayerError } from '../errors.js';
import { applyLayer } from '../tar/apply-layer.js';
import { streamOf, tarOf } from '../testing/tar-fixtures.js';
import { snapshotTree } from '../testing/tar-tree-snapshot.js';
import { twoLayerImage } from '../testing/tar-two-layer-image.js';
import { UnionView } from './union-view.js';

let base: Buffer;
let top: Buffer;
let opened: number[];

/** Openers that count how often each layer is read. */
const openers = (...blobs: Buffer[]) =>
  blobs.map((blob, i) => () => {
    opened[i]++;
    return streamOf(blob);
  });

beforeAll(async () => {
  // the base plain, the top gzip: each opener's stream is sniffed on its own
  [base] = await twoLayerImage();
  [, top] = await twoLayerImage({ gzip: true });
});

const text = async (stream: Readable) => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
};

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LayerError);
  return (error as LayerError).code;
}

describe('UnionView over a two-layer image', () => {
  let view: UnionView;
  beforeAll(() => {
    opened = [0, 0];
    view = new UnionView(openers(base, top));
  });

  it('lists the root, merged', async () => {
    expect((await view.list()).map((e) => `${e.type} ${e.path}`)).toEqual([
      'dir /bin',
      'dir /data',
      'dir /empty',
      'dir /etc',
      'dir /home',
      'dir /run',
      'dir /srv',
    ]);
  });

  it('a whiteout hides the lower file', async () => {
    expect((await view.list('/etc')).map((e) => e.path)).toEqual(['/etc/passwd']);
    expect(await codeOf(view.readFile('/etc/motd'))).toBe('PATH_NOT_FOUND');
  });

  it('an opaque directory hides every lower child, and takes the higher mode', async () => {
    expect((await view.list('/data', { recursive: true })).map((e) => e.path)).toEqual(['/data/new.txt']);
    expect((await view.list('/'))[1]).toMatchObject({ path: '/data', mode: 0o750 });
    expect(await codeOf(view.readFile('/data/old.txt'))).toBe('PATH_NOT_FOUND');
    expect(await codeOf(view.list('/data/sub'))).toBe('PATH_NOT_FOUND');
  });

  it('a file replacing a directory hides the lower subtree', async () => {
    expect(await view.list('/srv', { recursive: true })).toEqual([
      expect.objectContaining({ path: '/srv/cache', type: 'file', size: 11 }),
    ]);
    expect(await text(await view.readFile('/srv/cache'))).toBe('now a file\n');
    expect(await codeOf(view.readFile('/srv/cache/item'))).toBe('PATH_NOT_FOUND');
  });

  it('reads files, following symlinks and hard links (also to a lower layer)', async () => {
    expect(await text(await view.readFile('/etc/passwd'))).toContain('root');
    expect(await text(await view.readFile('bin/sh'))).toBe('tool v1\n');
    expect(await text(await view.readFile('/bin/tool-again'))).toBe('tool v1\n');
    expect(await text(await view.readFile('/bin/tool-link2'))).toBe('tool v1\n');
    expect(await text(await view.readFile('/etc/../data/./new.txt'))).toBe('new\n');
  });

  it('describes entries like ls -l: modes, owners, links, sizes', async () => {
    const all = await view.list('/', { recursive: true });
    const byPath = Object.fromEntries(all.map((e) => [e.path, e]));
    expect(byPath['/home/user/notes']).toMatchObject({ type: 'file', mode: 0o600, uid: 1000, gid: 1000, size: 5 });
    expect(byPath['/bin/sh']).toMatchObject({ type: 'symlink', linkname: 'tool' });
    expect(byPath['/bin/tool-link2']).toMatchObject({ type: 'hardlink', linkname: '/bin/tool' });
    expect(byPath['/run/pipe']).toMatchObject({ type: 'fifo', mode: 0o620 });
    expect(byPath['/etc/.wh.motd']).toBeUndefined();
    expect(all.map((e) => e.path)).toEqual([...all.map((e) => e.path)].sort());
  });

  it('lists a file as itself', async () => {
    expect((await view.list('/etc/passwd')).map((e) => e.path)).toEqual(['/etc/passwd']);
  });

  it('refuses to read a directory or a fifo (NOT_A_FILE)', async () => {
    expect(await codeOf(view.readFile('/data'))).toBe('NOT_A_FILE');
    expect(await codeOf(view.readFile('/run/pipe'))).toBe('NOT_A_FILE');
  });

  it('reads the headers of each layer once, then only the layer holding a file', async () => {
    const counted = new UnionView(openers(base, top));
    opened = [0, 0];
    await counted.list();
    expect(opened).toEqual([1, 1]);
    await text(await counted.readFile('/data/new.txt'));
    expect(opened).toEqual([1, 2]);
  });

  it('shows what unpacking both layers gives (native style)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-union-'));
    try {
      const rootfs = join(dir, 'rootfs');
      await mkdir(rootfs);
      await applyLayer(streamOf(base), rootfs, { style: 'native' });
      await applyLayer(streamOf(top), rootfs, { style: 'native' });
      const unpacked = (await snapshotTree(rootfs)).map((r) => `${r.path} ${r.type} ${r.mode} ${r.owner} ${r.mtime}`);
      const viewed = (await view.list('/', { recursive: true })).map((e) => {
        const mode = e.type === 'symlink' ? '-' : (e.mode & 0o7777).toString(8);
        return `${e.path.slice(1)} ${e.type === 'hardlink' ? 'file' : e.type} ${mode} ${e.uid}:${e.gid} ${e.mtime.getTime() / 1000}`;
      });
      expect(viewed).toEqual(unpacked);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('UnionView: more layers', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-union-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('a higher layer brings a deleted path back; symlinks resolve inside the image, loops end', async () => {
    const third = await tarOf([
      { name: 'etc/motd', body: 'back again\n' },
      { name: 'escape', type: 'symlink', linkname: '/etc/motd' },
      { name: 'etc/up', type: 'symlink', linkname: '../escape' },
      { name: 'loop-a', type: 'symlink', linkname: 'loop-b' },
      { name: 'loop-b', type: 'symlink', linkname: 'loop-a' },
    ]);
    opened = [0, 0, 0];
    const view = new UnionView(openers(base, top, third));
    expect(await text(await view.readFile('/etc/motd'))).toBe('back again\n');
    expect(await text(await view.readFile('/escape'))).toBe('back again\n');
    expect(await text(await view.readFile('/etc/up'))).toBe('back again\n');
    expect(await text(await view.readFile('/../../escape'))).toBe('back again\n'); // ".." stops at the image's root
    expect(await codeOf(view.readFile('/loop-a'))).toBe('PATH_NOT_FOUND');
  });

  it('lists a symlink to a directory as that directory', async () => {
    opened = [0, 0, 0];
    const view = new UnionView(openers(base, top, await tarOf([{ name: 'conf', type: 'symlink', linkname: '/etc' }])));
    expect((await view.list('/conf')).map((e) => e.path)).toEqual(['/etc/passwd']);
    expect(await text(await view.readFile('/conf/passwd'))).toContain('root');
  });

  it('an opaque root hides every lower path; a same-layer whiteout hides nothing of its own layer', async () => {
    const fresh = await tarOf([{ name: '.wh..wh..opq' }, { name: 'only', body: 'o' }, { name: '.wh.only' }]);
    opened = [0, 0, 0];
    const view = new UnionView(openers(base, top, fresh));
    expect((await view.list('/', { recursive: true })).map((e) => e.path)).toEqual(['/only']);
  });

  it('fills in directories no layer lists', async () => {
    opened = [0];
    const view = new UnionView(openers(await tarOf([{ name: 'a/b/c', body: 'deep' }])));
    expect(await view.list('/', { recursive: true })).toEqual([
      expect.objectContaining({ path: '/a', type: 'dir' }),
      expect.objectContaining({ path: '/a/b', type: 'dir' }),
      expect.objectContaining({ path: '/a/b/c', type: 'file' }),
    ]);
  });

  it('streams a large file from its layer', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'abc');
    opened = [0];
    const view = new UnionView(openers(await tarOf([{ name: 'big', body: big }, { name: 'after', body: 'x' }], { gzip: true })));
    const stream = await view.readFile('/big');
    let length = 0;
    for await (const chunk of stream) length += (chunk as Buffer).length;
    expect(length).toBe(big.length);
  });

  it('stops reading the layer when the reader of a file goes away', async () => {
    let closed = 0;
    const blob = await tarOf([{ name: 'big', body: Buffer.alloc(4 * 1024 * 1024, 1) }]);
    const view = new UnionView([
      () => {
        const stream = streamOf(blob.subarray(0, 1024 * 1024), blob.subarray(1024 * 1024));
        stream.on('close', () => closed++);
        return stream;
      },
    ]);
    await view.list();
    const file = await view.readFile('/big');
    for await (const _chunk of file) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(2); // the index's read, and this one, cut short
  });

  it('reports a hostile layer as its LayerError', async () => {
    opened = [0];
    const view = new UnionView(openers(await tarOf([{ name: '../x', body: '' }])));
    expect(await codeOf(view.list())).toBe('UNSAFE_PATH');
  });
});
