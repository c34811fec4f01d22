import { DEFAULT_READ_BYTES_LIMIT } from '../content/fs-content-store.js';
import { parseDigest } from '../content/digest.js';
import type { ContentStore } from '../content/port.js';
import { LayerError, layerInvalid, layerNotFound } from '../errors.js';
import { mapLimit } from '../map-limit.js';
import { chainIds } from './chain-id.js';
import { layerDiffId, type LayerDiffIdOptions } from './layer-diff-id.js';
import { isLayerMediaType } from './media-types.js';
import { checkConfigDescriptor, parseImageConfig, parseManifest, type Descriptor, type ImageConfig, type ImageManifest } from './schemas.js';

export interface ResolvedLayer {
  digest: string;
  size: number;
  mediaType: string;
  /** sha256 of the uncompressed tar: what the config's rootfs.diff_ids name. */
  diffId: string;
}

/** An image whose every part is in the store and agrees with the others. */
export interface ResolvedImage {
  manifestDigest: string;
  manifest: ImageManifest;
  /** The image id, as Docker calls it. */
  configDigest: string;
  config: ImageConfig;
  layers: ResolvedLayer[];
  chainIds: string[];
  /** Bytes the image occupies in the content store: manifest + config + layer blobs (shared blobs counted here too). */
  size: number;
}

export interface ResolveImageOptions extends LayerDiffIdOptions {
  /** Cap on the manifest and config sizes (default 4 MiB). */
  maxDocumentBytes?: number;
  /** Layer digest → diffID already computed in this run (images of one archive share layers). */
  diffIdCache?: Map<string, string>;
  /**
   * Computes a layer's diffID in place of `layerDiffId` (which reads and hashes the layer): a caller
   * that reads every layer anyway (the hardened tar reader's checks) passes its own, so each layer is
   * read once. Called after every layer's presence and size were checked, for up to PARALLEL_LAYERS
   * layers at once, once per digest.
   */
  diffIdOf?: (layer: Descriptor) => Promise<string>;
}

/**
 * Reads and checks an image from the store: the manifest is valid; the config and every layer are
 * present with the size the manifest gives (present means verified: a blob's address is its digest);
 * `rootfs.diff_ids` has one entry per layer and each equals the sha256 of that layer uncompressed.
 * Reads every layer once (uncompressing it), so it costs what the image weighs.
 */
export async function resolveImage(store: ContentStore, manifestDigest: string, options: ResolveImageOptions = {}): Promise<ResolvedImage> {
  parseDigest(manifestDigest);
  const maxDocument = options.maxDocumentBytes ?? DEFAULT_READ_BYTES_LIMIT;
  const manifestBytes = await readDocument(store, manifestDigest, 'manifest', maxDocument);
  const manifest = parseManifest(manifestBytes);

  checkConfigDescriptor(manifest.config);
  await requireBlob(store, manifest.config, 'config');
  const config = parseImageConfig(await readDocument(store, manifest.config.digest, 'config', maxDocument));

  for (const [i, layer] of manifest.layers.entries()) {
    if (!isLayerMediaType(layer.mediaType)) {
      throw layerInvalid('UNSUPPORTED_MEDIA_TYPE', `layer ${i} (${layer.digest}) has media type ${layer.mediaType}, not a layer`, { digest: layer.digest, mediaType: layer.mediaType });
    }
    await requireBlob(store, layer, `layer ${i}`);
  }

  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw layerInvalid('DIFF_ID_MISMATCH', `config ${manifest.config.digest} lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`, {
      diffIds: diffIds.length,
      layers: manifest.layers.length,
    });
  }
  const layers: ResolvedLayer[] = [];
  const computed = await layerDiffIds(manifest.layers, (layer) => (options.diffIdOf ? options.diffIdOf(layer) : layerDiffId(store, layer, options)), options.diffIdCache);
  for (const [i, layer] of manifest.layers.entries()) {
    const outcome = computed.get(layer.digest)!;
    if ('error' in outcome) throw outcome.error; // the first failure in manifest order is the answer
    const { diffId } = outcome;
    options.diffIdCache?.set(layer.digest, diffId);
    if (diffId !== diffIds[i]) {
      throw layerInvalid('DIFF_ID_MISMATCH', `layer ${i} (${layer.digest}) uncompresses to ${diffId}, but the config says ${diffIds[i]}`, {
        layer: layer.digest,
        expected: diffIds[i],
        actual: diffId,
      });
    }
    layers.push({ digest: layer.digest, size: layer.size, mediaType: layer.mediaType, diffId });
  }

  return {
    manifestDigest,
    manifest,
    configDigest: manifest.config.digest,
    config,
    layers,
    chainIds: chainIds(diffIds),
    size: manifestBytes.length + manifest.config.size + layers.reduce((sum, layer) => sum + layer.size, 0),
  };
}

/**
 * Layers read at once: a layer's gunzip and file reads run on the thread pool, so the next layer's can
 * go on while this thread parses and hashes one (the manifest PUT of a push waits on this, with the
 * client idle). A digest listed twice is computed once.
 */
const PARALLEL_LAYERS = 4;

async function layerDiffIds(
  layers: readonly Descriptor[],
  compute: (layer: Descriptor) => Promise<string>,
  cache?: ReadonlyMap<string, string>,
): Promise<Map<string, { diffId: string } | { error: unknown }>> {
  const outcomes = new Map<string, { diffId: string } | { error: unknown }>();
  const wanted = new Map<string, Descriptor>(); // once per digest
  for (const layer of layers) {
    const cached = cache?.get(layer.digest);
    if (cached !== undefined) outcomes.set(layer.digest, { diffId: cached });
    else wanted.set(layer.digest, layer);
  }
  await mapLimit([...wanted.values()], PARALLEL_LAYERS, async (layer) => {
    try {
      outcomes.set(layer.digest, { diffId: await compute(layer) });
    } catch (error) {
      outcomes.set(layer.digest, { error }); // every layer is computed; the caller answers in manifest order
    }
  });
  return outcomes;
}

/** BLOB_UNKNOWN if absent, SIZE_MISMATCH if its size is not the descriptor's. */
export async function requireBlob(store: ContentStore, descriptor: Pick<Descriptor, 'digest' | 'size'>, what: string): Promise<void> {
  const info = await store.info(descriptor.digest);
  if (!info) throw layerNotFound('BLOB_UNKNOWN', `${what} ${descriptor.digest} is missing`, { digest: descriptor.digest });
  if (info.size !== descriptor.size) {
    throw layerInvalid('SIZE_MISMATCH', `${what} ${descriptor.digest} is ${info.size} bytes, but its descriptor says ${descriptor.size}`, {
      digest: descriptor.digest,
      expected: descriptor.size,
      actual: info.size,
    });
  }
}

/** A JSON document whole, with errors that say which document. */
export async function readDocument(store: ContentStore, digest: string, what: string, max = DEFAULT_READ_BYTES_LIMIT): Promise<Buffer> {
  parseDigest(digest);
  try {
    return await store.readBytes(digest, max);
  } catch (error) {
    if (error instanceof LayerError && error.code === 'BLOB_UNKNOWN') throw layerNotFound('BLOB_UNKNOWN', `${what} ${digest} is missing`, { digest });
    if (error instanceof LayerError && error.code === 'SIZE_LIMIT') throw layerInvalid('SIZE_LIMIT', `${what} ${digest} is larger than ${max} bytes`, { digest, limit: max });
    throw error;
  }
}
