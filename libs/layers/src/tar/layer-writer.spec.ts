import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, link, lutimes, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LayerError } from '../errors.js';
import { streamOf } from '../testing/tar-fixtures.js';
import { snapshotTree } from '../testing/tar-tree-snapshot.js';
import { applyLayer } from './apply-layer.js';
import type { LayerEntryHeader } from './layer-entry.js';
import { readLayer } from './layer-reader.js';
import { gzipLayer, writeLayer, writeTreeLayer } from './layer-writer.js';

let work: string;
let tree: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'strata-writer-'));
  tree = join(work, 'tree');
  await mkdir(tree);
});
afterEach(() => rm(work, { recursive: true, force: true }));

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function headersOf(bytes: Buffer): Promise<LayerEntryHeader[]> {
  const out: LayerEntryHeader[] = [];
  for await (const { body: _body, ...header } of readLayer(streamOf(bytes))) out.push(header);
  return out;
}

/** A tree with everything a layer carries: modes, owners, symlinks, hard links, empty dirs, a fifo, times. */
async function makeRichTree(root: string) {
  const when = new Date('2020-06-07T08:09:10Z');
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/config'), 'key=value\n');
  await chmod(join(root, 'etc/config'), 0o640);
  await mkdir(join(root, 'home/dev'), { recursive: true });
  await writeFile(join(root, 'home/dev/.profile'), 'export A=1\n');
  execFileSync('chown', ['-R', '1000:1000', join(root, 'home/dev')]);
  await mkdir(join(root, 'empty'));
  await chmod(join(root, 'empty'), 0o711);
  await mkdir(join(root, 'tmp'));
  await chmod(join(root, 'tmp'), 0o1777);
  await writeFile(join(root, 'bin'), Buffer.alloc(100_000, 0x90));
  await chmod(join(root, 'bin'), 0o4755);
  await link(join(root, 'bin'), join(root, 'etc/bin-link'));
  await link(join(root, 'bin'), join(root, 'home/bin-link2'));
  await symlink('../bin', join(root, 'etc/rel'));
  await symlink('/etc/config', join(root, 'abs'));
  execFileSync('mkfifo', ['-m', '0610', join(root, 'fifo')]);
  await writeFile(join(root, `long-${'n'.repeat(150)}`), 'long name');
  await writeFile(join(root, 'ünïcode'), 'utf-8 name');
  await lutimes(join(root, 'etc/rel'), when, when);
  for (const path of ['etc/config', 'home/dev/.profile', 'bin', 'fifo', 'empty', 'tmp', 'home/dev', 'home', 'etc']) {
    await utimes(join(root, path), when, when);
  }
}

describe('writeTreeLayer', () => {
  it('round-trips through readLayer and applyLayer: modes, owners, symlinks, hard links, empty dirs, fifos, mtimes', async () => {
    await makeRichTree(tree);
    const bytes = await bytesOf(writeTreeLayer(tree));

    const headers = await headersOf(bytes);
    const byPath = Object.fromEntries(headers.map((h) => [h.path, h]));
    expect(byPath['home/dev']).toMatchObject({ type: 'dir', uid: 1000, gid: 1000 });
    expect(byPath['bin']).toMatchObject({ type: 'file', mode: 0o4755, size: 100_000 });
    expect(byPath['etc/bin-link']).toMatchObject({ type: 'hardlink', linkname: 'bin' });
    expect(byPath['home/bin-link2']).toMatchObject({ type: 'hardlink', linkname: 'bin' });
    expect(byPath['etc/rel']).toMatchObject({ type: 'symlink', linkname: '../bin' });
    expect(byPath['fifo']).toMatchObject({ type: 'fifo', mode: 0o610 });
    expect(byPath['empty']).toMatchObject({ type: 'dir', mode: 0o711 });
    expect(byPath['etc/config'].mtime).toEqual(new Date('2020-06-07T08:09:10Z'));
    // parents before children
    const order = headers.map((h) => h.path);
    for (const [i, path] of order.entries()) {
      const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : undefined;
      if (parent) expect(order.indexOf(parent)).toBeLessThan(i);
    }

    const copy = join(work, 'copy');
    await mkdir(copy);
    await applyLayer(streamOf(bytes), copy, { style: 'native' });
    expect(await snapshotTree(copy)).toEqual(await snapshotTree(tree));
  });

  it('is deterministic: the same tree gives the same bytes, and gzip too', async () => {
    await makeRichTree(tree);
    const first = await bytesOf(writeTreeLayer(tree));
    const second = await bytesOf(writeTreeLayer(tree));
    expect(createHash('sha256').update(first).digest('hex')).toBe(createHash('sha256').update(second).digest('hex'));
    expect(await bytesOf(gzipLayer(streamOf(first)))).toEqual(await bytesOf(gzipLayer(streamOf(second))));
  });

  it('writes a tar GNU tar reads back into the same tree', async () => {
    await makeRichTree(tree);
    const blob = await bytesOf(gzipLayer(writeTreeLayer(tree)));
    const out = join(work, 'gnu');
    await mkdir(out);
    execFileSync('tar', ['-xzf', '-', '--numeric-owner', '-C', out], { input: blob });
    expect(await snapshotTree(out)).toEqual(await snapshotTree(tree));
  });

  it('gives a gzip blob whose digest differs from its diffID', async () => {
    await writeFile(join(tree, 'a'), 'a');
    const blob = await bytesOf(gzipLayer(writeTreeLayer(tree)));
    const reading = readLayer(streamOf(blob));
    for await (const _entry of reading) {
      // headers only
    }
    const result = reading.result();
    expect(result.gzip).toBe(true);
    expect(result.digest).not.toBe(result.diffId);
    expect(result.size).toBe(blob.length);
  });
});

describe('writeLayer from changes', () => {
  it('writes D as .wh.<name>, an opaque directory as its entry then .wh..wh..opq, a changed directory as itself only', async () => {
    await mkdir(join(tree, 'data/sub'), { recursive: true });
    await writeFile(join(tree, 'data/-first'), '1');
    await writeFile(join(tree, 'data/sub/untouched'), 'u');
    await mkdir(join(tree, 'etc'));
    await writeFile(join(tree, 'etc/new'), 'n');
    const bytes = await bytesOf(
      writeLayer(tree, [
        { kind: 'C', path: '/etc', type: 'dir' },
        { kind: 'A', path: '/etc/new', type: 'file' },
        { kind: 'D', path: '/etc/motd', type: 'file' },
        { kind: 'A', path: '/data', type: 'dir', opaque: true },
        { kind: 'A', path: '/data/-first', type: 'file' },
      ]),
    );
    const headers = await headersOf(bytes);
    expect(headers.map((h) => [h.path, h.type, h.whiteout])).toEqual([
      ['data', 'dir', undefined],
      ['data/.wh..wh..opq', 'file', { opaque: 'data' }],
      ['data/-first', 'file', undefined],
      ['etc', 'dir', undefined],
      ['etc/.wh.motd', 'file', { of: 'etc/motd' }],
      ['etc/new', 'file', undefined],
    ]);
  });

  it('writes the first of two hard-linked files as a file and the second as a link to it', async () => {
    await writeFile(join(tree, 'b'), 'shared');
    await link(join(tree, 'b'), join(tree, 'a'));
    const headers = await headersOf(
      await bytesOf(
        writeLayer(tree, [
          { kind: 'A', path: '/b' },
          { kind: 'A', path: '/a' },
        ]),
      ),
    );
    expect(headers.map((h) => [h.path, h.type, h.linkname])).toEqual([
      ['a', 'file', undefined],
      ['b', 'hardlink', 'a'],
    ]);
  });

  it('refuses names reserved for whiteouts', async () => {
    await writeFile(join(tree, '.wh.sneaky'), '');
    const error = await bytesOf(writeTreeLayer(tree)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LayerError);
    expect((error as LayerError).code).toBe('UNSUPPORTED_ENTRY');
  });

  it('refuses to read through a symlinked parent directory', async () => {
    const outside = join(work, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret'), 'host secret');
    await symlink(outside, join(tree, 'evil'));
    const error = await bytesOf(writeLayer(tree, [{ kind: 'A', path: '/evil/secret' }])).catch((e: unknown) => e);
    expect((error as LayerError).code).toBe('UNSAFE_PATH');
  });

  it('stops cleanly when its reader goes away midway', async () => {
    await writeFile(join(tree, 'big'), Buffer.alloc(8 * 1024 * 1024, 1));
    await writeFile(join(tree, 'zzz'), 'after');
    const stream = writeTreeLayer(tree);
    for await (const _chunk of stream) break; // destroys the stream after the first chunk
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stream.destroyed).toBe(true);
  });

  it('fails the stream when a changed path has vanished', async () => {
    const error = await bytesOf(writeLayer(tree, [{ kind: 'A', path: '/missing' }])).catch((e: unknown) => e);
    expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});
