import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Digest } from '../content/digest.js';
import { FsContentStore } from '../content/fs-content-store.js';
import { sampleLayer, storeImage } from '../testing/oci-fixtures.js';
import { writeOciLayout } from './layout-writer.js';

describe('writeOciLayout', () => {
  let work: string;
  let store: FsContentStore;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'strata-save-'));
    store = await FsContentStore.open(join(work, 'store'));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('writes blobs shared by two images once, and index.json with one entry per image', async () => {
    const shared = await sampleLayer('shared');
    const one = await storeImage(store, [shared]);
    const two = await storeImage(store, [shared, await sampleLayer('own')]);
    const out = join(work, 'out');
    const written = await writeOciLayout(store, [{ manifestDigest: one.manifestDigest, refName: 'one' }, { manifestDigest: two.manifestDigest, refName: 'two' }], { dir: out });
    expect(written.index.manifests.map((m) => m.digest)).toEqual([one.manifestDigest, two.manifestDigest]);
    expect(written.index.manifests[0].platform).toEqual({ architecture: 'amd64', os: 'linux' });
    // 2 layers + 2 configs + 2 manifests (the configs differ: their diff_ids do)
    expect((await readdir(join(out, 'blobs', 'sha256'))).sort()).toEqual(written.blobs.map((b) => b.digest.slice(7)).sort());
    expect(written.blobs).toHaveLength(6);
    expect((await readdir(out)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  it('checks every image is whole before writing anything', async () => {
    const image = await storeImage(store, [await sampleLayer('gone')]);
    await store.delete(image.layers[0].digest);
    await expect(writeOciLayout(store, [{ manifestDigest: image.manifestDigest }], { dir: join(work, 'out') })).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    await expect(writeOciLayout(store, [{ manifestDigest: sha256Digest('none') }], { dir: join(work, 'out') })).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    expect(await readdir(work)).toEqual(['store']);
  });

  it('refuses a non-empty target directory and an invalid ref name', async () => {
    const image = await storeImage(store, [await sampleLayer('x')]);
    await mkdir(join(work, 'full'));
    await writeFile(join(work, 'full', 'something'), 'x');
    await expect(writeOciLayout(store, [{ manifestDigest: image.manifestDigest }], { dir: join(work, 'full') })).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
    await expect(writeOciLayout(store, [{ manifestDigest: image.manifestDigest, refName: '../evil' }], { dir: join(work, 'out') })).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
  });

  it('stops with the error of a destination stream that fails midway', async () => {
    const image = await storeImage(store, [Buffer.alloc(4 * 1024 * 1024, 3)]);
    let received = 0;
    const failing = new Writable({
      write(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        done(received > 1024 * 1024 ? new Error('client went away') : null);
      },
    });
    await expect(writeOciLayout(store, [{ manifestDigest: image.manifestDigest }], { stream: failing })).rejects.toThrow('client went away');
  });
});
