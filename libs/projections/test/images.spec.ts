import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { imageStreamId, type ImageCreatedData, type ImageEvent } from '@strata/domain';
import type { SqliteEventStore } from '@strata/eventstore';
import { ProjectionEngine } from '@strata/projections';
import { digest, openStore, RepositoryDriver, tempDir, timeOf } from './helpers.js';

const image = (n: number, layers: number[], history: ImageCreatedData['history'] = []): ImageCreatedData => ({
  manifestDigest: digest(1000 + n),
  imageId: digest(2000 + n),
  manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
  layers: layers.map((l) => ({ digest: digest(l), diffId: digest(l + 500), size: l * 10, mediaType: 'application/vnd.oci.image.layer.v1.tar' })),
  chainIds: layers.map((l) => digest(l + 700)),
  size: layers.reduce((a, l) => a + l * 10, 0),
  created: null,
  author: null,
  architecture: 'amd64',
  os: 'linux',
  history,
  config: { cmd: ['/bin/sh'], entrypoint: null, env: [], workingDir: null, user: null, labels: {}, exposedPorts: [], volumes: [], stopSignal: null },
  origin: 'import',
  parent: null,
  source: null,
});

describe('images projector', () => {
  let dir: { dir: string; cleanup(): Promise<void> };
  let store: SqliteEventStore;
  let engine: ProjectionEngine;
  let step = 0;

  const append = async (streamId: string, event: ImageEvent) => {
    step++;
    await store.append(streamId, 'any', [
      { eventId: `img-${step}`, type: event.type, schemaVersion: 1, occurredAt: timeOf(step), actor: 'alice', correlationId: `c${step}`, causationId: null, nodeId: 'n', data: event.data },
    ], { commandId: `cmd-img-${step}` });
  };

  beforeEach(async () => {
    dir = await tempDir();
    store = openStore(join(dir.dir, 'strata.db'));
    engine = await ProjectionEngine.open({ path: join(dir.dir, 'read.db'), store });
  });
  afterEach(async () => {
    await engine.close();
    await store.close();
    await dir.cleanup();
  });

  it('lists images with their layers and tags, finds them by id prefix and drops deleted ones', async () => {
    const base = image(1, [1]);
    const child = image(2, [1, 2], [
      { created: null, createdBy: 'import', author: null, comment: null, emptyLayer: false },
      { created: null, createdBy: 'CMD ["sh"]', author: null, comment: null, emptyLayer: true },
      { created: null, createdBy: 'commit', author: 'bob', comment: 'fix', emptyLayer: false },
    ]);
    await append(imageStreamId(base.manifestDigest), { type: 'ImageCreated', schemaVersion: 1, data: base });
    await append(imageStreamId(child.manifestDigest), { type: 'ImageCreated', schemaVersion: 1, data: child });
    await new RepositoryDriver(store).run({ type: 'TagImage', name: 'demo/app', tag: '1', digest: child.manifestDigest });
    await engine.catchUp();

    const images = await engine.listImages();
    expect(images.map((i) => i.manifestDigest)).toEqual([child.manifestDigest, base.manifestDigest]);
    expect(images[0].tags).toEqual(['demo/app:1']);
    expect(images[0].layers.map((l) => [l.digest, l.chainId])).toEqual([[digest(1), digest(701)], [digest(2), digest(702)]]);
    // history rows: the empty-layer entry has no layer; the others take the layers in order.
    expect(images[0].history.map((h) => [h.createdBy, h.layerDigest, h.size])).toEqual([
      ['import', digest(1), 10], ['CMD ["sh"]', null, 0], ['commit', digest(2), 20],
    ]);
    // An image without history shows one anonymous row per layer.
    expect(images[1].history).toEqual([{ created: null, createdBy: null, author: null, comment: null, emptyLayer: false, layerDigest: digest(1), size: 10 }]);
    expect((await engine.findImagesByPrefix(child.imageId.slice(7))).map((i) => i.manifestDigest)).toEqual([child.manifestDigest]);
    expect(await engine.findImagesByPrefix('zz')).toEqual([]);
    expect(await engine.liveImageBlobs()).toEqual(new Set([base.manifestDigest, base.imageId, child.manifestDigest, child.imageId, digest(1), digest(2)]));

    await append(imageStreamId(base.manifestDigest), { type: 'ImageDeleted', schemaVersion: 1, data: { manifestDigest: base.manifestDigest, imageId: base.imageId, untagged: [] } });
    await engine.catchUp();
    expect((await engine.listImages()).map((i) => i.manifestDigest)).toEqual([child.manifestDigest]);
    expect(await engine.getImage(base.manifestDigest)).toBeNull();
    // Replay gives the same tables.
    const before = await engine.checksum();
    await engine.replay();
    expect(await engine.checksum()).toBe(before);
  });
});
