import { FsContentStore, MediaTypes, buildManifest, newImageConfig, serializeImageConfig, type ContentStore } from '@strata/layers';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sha256Digest } from '../../../../libs/layers/src/content/digest.js';
import { sampleLayer, storeImage, tarOf } from '../../../../libs/layers/src/testing/oci-fixtures.js';
import { resolveInspectedImage } from './inspect-layer.js';

const checks = { maxUncompressedBytes: 1 << 30, setuid: 'allow' as const };

/** An image whose one layer is `bytes` under `mediaType`, its config naming `diffId`. */
async function storeRaw(store: ContentStore, bytes: Buffer, mediaType: string, diffId: string): Promise<string> {
  const layer = await store.putBytes(bytes);
  const config = serializeImageConfig(newImageConfig({ diffIds: [diffId], created: '2024-01-01T00:00:00Z', architecture: 'amd64', os: 'linux' }));
  await store.putBytes(config.bytes);
  const manifest = buildManifest(config.descriptor, [{ mediaType, digest: layer.digest, size: layer.size }]);
  await store.putBytes(manifest.bytes);
  return manifest.descriptor.digest;
}

describe('resolveInspectedImage: the image whole and every layer checked, each layer read once', () => {
  let root: string;
  let store: FsContentStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-inspect-'));
    store = await FsContentStore.open(root);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(root, { recursive: true, force: true });
  });

  it('gives the diffIDs of plain and gzip layers, reading each layer once', async () => {
    const layers = [await sampleLayer('one'), await sampleLayer('two')];
    for (const gzip of [false, true]) {
      const image = await storeImage(store, layers, { gzip });
      const read = vi.spyOn(store, 'read');
      const resolved = await resolveInspectedImage(store, image.manifestDigest, checks);
      expect(resolved.layers.map((l) => l.diffId)).toEqual(layers.map((l) => sha256Digest(l)));
      // one read per layer for its entries, plus layerEncoding's look at its first bytes
      const whole = read.mock.calls.filter(([, range]) => range === undefined).map(([digest]) => digest);
      expect(whole.sort()).toEqual(image.layers.map((l) => l.digest).sort());
      read.mockRestore();
    }
  });

  it('takes a known diffID as it is, and reads nothing of that layer', async () => {
    const layer = await sampleLayer('known');
    const image = await storeImage(store, [layer]);
    const read = vi.spyOn(store, 'read');
    const resolved = await resolveInspectedImage(store, image.manifestDigest, checks, new Map([[image.layers[0].digest, sha256Digest(layer)]]));
    expect(resolved.layers[0].diffId).toBe(sha256Digest(layer));
    expect(read).not.toHaveBeenCalled();
  });

  it('refuses what resolveImage and the tar reader refuse', async () => {
    const plain = await sampleLayer('x');
    // the config names another diffID
    const wrong = await storeImage(store, [plain], { diffIds: [sha256Digest('something else')] });
    await expect(resolveInspectedImage(store, wrong.manifestDigest, checks)).rejects.toMatchObject({ code: 'DIFF_ID_MISMATCH' });
    // a hostile entry
    const hostile = await tarOf([{ name: '../escape', content: 'x' }]);
    const escaping = await storeRaw(store, hostile, MediaTypes.ociLayer, sha256Digest(hostile));
    await expect(resolveInspectedImage(store, escaping, checks)).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    // labelled gzip, but plain bytes: refused as layerDiffId refused it
    const mislabelled = await storeRaw(store, plain, MediaTypes.ociLayerGzip, sha256Digest(plain));
    await expect(resolveInspectedImage(store, mislabelled, checks)).rejects.toMatchObject({ code: 'TRUNCATED_ARCHIVE' });
    // labelled plain, but gzip bytes: uncompressed by its magic, as layerDiffId did
    const sniffed = await storeRaw(store, gzipSync(plain), MediaTypes.ociLayer, sha256Digest(plain));
    expect((await resolveInspectedImage(store, sniffed, checks)).layers[0].diffId).toBe(sha256Digest(plain));
    // zstd: refused before it is read
    const zstd = await storeRaw(store, plain, MediaTypes.ociLayerZstd, sha256Digest(plain));
    await expect(resolveInspectedImage(store, zstd, checks)).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });
});
