import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Digest } from '../content/digest.js';
import { FsContentStore } from '../content/fs-content-store.js';
import { sampleLayer, storeImage } from '../testing/oci-fixtures.js';
import { buildManifest } from './builders.js';
import { chainIds } from './chain-id.js';
import { MediaTypes } from './media-types.js';
import { resolveImage } from './verify-image.js';

describe('resolveImage', () => {
  let root: string;
  let store: FsContentStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-resolve-'));
    store = await FsContentStore.open(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('resolves a whole image: layers with diffIDs, chainIDs, size', async () => {
    const layers = [await sampleLayer('one'), await sampleLayer('two')];
    const image = await storeImage(store, layers, { gzip: true });
    const resolved = await resolveImage(store, image.manifestDigest);
    expect(resolved.configDigest).toBe(image.configDigest);
    expect(resolved.layers.map((l) => l.diffId)).toEqual(layers.map((l) => sha256Digest(l)));
    expect(resolved.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.digest));
    expect(resolved.layers.every((l) => l.mediaType === MediaTypes.ociLayerGzip)).toBe(true);
    expect(resolved.chainIds).toEqual(chainIds(image.diffIds));
    const manifestSize = (await store.info(image.manifestDigest))!.size;
    const configSize = (await store.info(image.configDigest))!.size;
    expect(resolved.size).toBe(manifestSize + configSize + image.layers[0].size + image.layers[1].size);
  });

  it('says BLOB_UNKNOWN for a missing manifest, config or layer', async () => {
    await expect(resolveImage(store, sha256Digest('no manifest'))).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    const image = await storeImage(store, [await sampleLayer('gone')]);
    await store.delete(image.layers[0].digest);
    await expect(resolveImage(store, image.manifestDigest)).rejects.toMatchObject({ code: 'BLOB_UNKNOWN', message: expect.stringContaining('layer 0') });
  });

  it('says SIZE_MISMATCH when a descriptor gives the wrong size', async () => {
    const image = await storeImage(store, [await sampleLayer('size')]);
    const config = { mediaType: MediaTypes.ociConfig, digest: image.configDigest, size: (await store.info(image.configDigest))!.size };
    const wrong = buildManifest(config, [{ ...image.layers[0], size: image.layers[0].size + 1 }]);
    await store.putBytes(wrong.bytes);
    await expect(resolveImage(store, wrong.descriptor.digest)).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
  });

  it('says DIFF_ID_MISMATCH when the config names other diff_ids, or another number of them', async () => {
    const layer = await sampleLayer('liar');
    const liar = await storeImage(store, [layer], { diffIds: [sha256Digest('another layer')] });
    await expect(resolveImage(store, liar.manifestDigest)).rejects.toMatchObject({ code: 'DIFF_ID_MISMATCH' });
    const short = await storeImage(store, [layer, await sampleLayer('more')], { diffIds: [sha256Digest(layer)] });
    await expect(resolveImage(store, short.manifestDigest)).rejects.toMatchObject({ code: 'DIFF_ID_MISMATCH' });
  });

  it('refuses a manifest whose config is not an image config, or whose layer is not a layer', async () => {
    const image = await storeImage(store, [await sampleLayer('types')]);
    const configSize = (await store.info(image.configDigest))!.size;
    const artifact = buildManifest({ mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: image.configDigest, size: configSize }, image.layers);
    await store.putBytes(artifact.bytes);
    await expect(resolveImage(store, artifact.descriptor.digest)).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    const odd = buildManifest({ mediaType: MediaTypes.ociConfig, digest: image.configDigest, size: configSize }, [{ ...image.layers[0], mediaType: 'text/plain' }]);
    await store.putBytes(odd.bytes);
    await expect(resolveImage(store, odd.descriptor.digest)).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('reads layers several at a time, a digest listed twice once, and answers the first failure in manifest order', async () => {
    const layers = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((t) => sampleLayer(t)));
    const image = await storeImage(store, [...layers, layers[0]]);
    let running = 0;
    let most = 0;
    const asked: string[] = [];
    const slowly = async (layer: { digest: string }) => {
      asked.push(layer.digest);
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
      return sha256Digest(layers[image.layers.findIndex((l) => l.digest === layer.digest)]);
    };
    const resolved = await resolveImage(store, image.manifestDigest, { diffIdOf: slowly });
    expect(resolved.layers.map((l) => l.diffId)).toEqual(image.diffIds);
    expect(most).toBe(4);
    expect(asked).toHaveLength(6);
    // layer 3 fails at once, layer 1 later: layer 1's failure is the answer
    const failing = (layer: { digest: string }) => {
      const i = image.layers.findIndex((l) => l.digest === layer.digest);
      if (i === 1) return new Promise<string>((_, reject) => setTimeout(() => reject(new Error('layer 1 is bad')), 30));
      if (i === 3) return Promise.reject(new Error('layer 3 is bad'));
      return slowly(layer);
    };
    await expect(resolveImage(store, image.manifestDigest, { diffIdOf: failing })).rejects.toThrow('layer 1 is bad');
  });
});
