import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Digest } from '../content/digest.js';
import { FsContentStore } from '../content/fs-content-store.js';
import { sampleLayer } from '../testing/oci-fixtures.js';
import { layerDiffId } from './layer-diff-id.js';
import { MediaTypes } from './media-types.js';

describe('layerDiffId', () => {
  let root: string;
  let store: FsContentStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-diffid-'));
    store = await FsContentStore.open(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('is the digest of a plain tar layer', async () => {
    const tar = await sampleLayer('plain');
    const blob = await store.putBytes(tar);
    expect(await layerDiffId(store, { digest: blob.digest, mediaType: MediaTypes.ociLayer })).toBe(blob.digest);
  });

  it('is the digest of the uncompressed tar for a gzip layer, by media type or by magic', async () => {
    const tar = await sampleLayer('gzip');
    const blob = await store.putBytes(gzipSync(tar));
    expect(await layerDiffId(store, { digest: blob.digest, mediaType: MediaTypes.ociLayerGzip })).toBe(sha256Digest(tar));
    expect(await layerDiffId(store, { digest: blob.digest, mediaType: MediaTypes.dockerLayerGzip })).toBe(sha256Digest(tar));
    // mislabelled as plain tar: the gzip magic still tells
    expect(await layerDiffId(store, { digest: blob.digest, mediaType: MediaTypes.ociLayer })).toBe(sha256Digest(tar));
  });

  it('stops a gzip bomb at the cap', async () => {
    const bomb = await store.putBytes(gzipSync(Buffer.alloc(20 * 1024 * 1024))); // ~20 KiB that inflate to 20 MiB
    expect(bomb.size).toBeLessThan(100 * 1024);
    await expect(layerDiffId(store, { digest: bomb.digest, mediaType: MediaTypes.ociLayerGzip }, { maxUncompressedBytes: 1024 * 1024 })).rejects.toMatchObject({ code: 'SIZE_LIMIT' });
  });

  it('refuses corrupt gzip, zstd, unknown media types and missing blobs', async () => {
    const gz = gzipSync(await sampleLayer('cut'));
    const cut = await store.putBytes(gz.subarray(0, gz.length - 30));
    await expect(layerDiffId(store, { digest: cut.digest, mediaType: MediaTypes.ociLayerGzip })).rejects.toMatchObject({ code: 'TRUNCATED_ARCHIVE' });
    const zstd = await store.putBytes(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]));
    await expect(layerDiffId(store, { digest: zstd.digest, mediaType: MediaTypes.ociLayerZstd })).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    await expect(layerDiffId(store, { digest: zstd.digest, mediaType: MediaTypes.ociLayer })).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    await expect(layerDiffId(store, { digest: zstd.digest, mediaType: 'text/plain' })).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    await expect(layerDiffId(store, { digest: sha256Digest('nothing'), mediaType: MediaTypes.ociLayer })).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
  });

  it('handles an empty layer blob', async () => {
    const empty = await store.putBytes('');
    expect(await layerDiffId(store, { digest: empty.digest, mediaType: MediaTypes.ociLayer })).toBe(sha256Digest(''));
  });
});
