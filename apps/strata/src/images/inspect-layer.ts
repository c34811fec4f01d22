import {
  drainedOrClosed,
  layerEncoding,
  layerInvalid,
  MediaTypes,
  readLayer,
  resolveImage,
  type BlobInfo,
  type ContentStore,
  type LayerDigests,
  type PutOptions,
  type ResolvedImage,
  type SetuidPolicy,
} from '@strata/layers';
import { PassThrough, type Readable } from 'node:stream';
import type { NodeConfig } from '../config/node-config.js';

export interface InspectedLayer extends LayerDigests {
  mediaType: string;
}

type InspectOptions = { maxUncompressedBytes: number; setuid: SetuidPolicy };

/** The node's limits for a layer it is given: its size uncompressed, and what setuid bits become. */
export function layerChecks(config: Pick<NodeConfig, 'maxLayerBytes' | 'setuid'>): InspectOptions {
  return { maxUncompressedBytes: config.maxLayerBytes, setuid: config.setuid };
}

/**
 * Reads a stored layer blob through the hardened tar reader to the end: every hostile construct
 * (`..`, links out of the root, devices, duplicates, truncation, a gzip bomb) is refused here, before
 * any event names the layer. Returns its diffID and what it is (gzip or plain). A stored blob's address
 * is its verified digest: only a gzip layer's tar is hashed.
 */
export function inspectLayer(content: ContentStore, digest: string, options: InspectOptions): Promise<InspectedLayer> {
  return inspectStream(content.read(digest), options, Promise.resolve(digest));
}

/**
 * What an import, a pull or a push checks before anything is recorded: the image whole (resolveImage)
 * and every layer's entries (inspectLayer), each layer read once — the tar reader's pass gives the
 * diffID resolveImage compares with the config. `known`: layer digest → diffID already read (an import's
 * upload was inspected as it came in).
 */
export async function resolveInspectedImage(
  content: ContentStore,
  manifestDigest: string,
  options: InspectOptions,
  known?: ReadonlyMap<string, string>,
): Promise<ResolvedImage> {
  return resolveImage(content, manifestDigest, {
    maxUncompressedBytes: options.maxUncompressedBytes,
    diffIdCache: known ? new Map(known) : undefined,
    diffIdOf: async (layer) => {
      // As layerDiffId: zstd or not a layer is refused first, and a layer labelled gzip must be gzip.
      const { gzip } = await layerEncoding(content, layer);
      const inspected = await inspectLayer(content, layer.digest, options);
      if (gzip && !inspected.gzip) throw layerInvalid('TRUNCATED_ARCHIVE', `layer ${layer.digest} is labelled gzip but is not valid gzip`, { digest: layer.digest });
      return inspected.diffId;
    },
  });
}

/** `blobDigest`: the blob's digest as the content store has it (it hashes what it stores): the reader hashes only a gzip layer's tar. */
async function inspectStream(source: Readable, options: InspectOptions, blobDigest: Promise<string>): Promise<InspectedLayer> {
  const reading = readLayer(source, { ...options, hash: 'tar' });
  for await (const _entry of reading) {
    // bodies left unread are skipped; the checks run on the headers
  }
  const digests = reading.result(await blobDigest);
  return { ...digests, mediaType: digests.gzip ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer };
}

/**
 * One pass over an uploaded layer: the bytes go into the content store and through the hardened tar
 * reader at the same time (the upload is read once, not stored and then read back from disk: issue 7's
 * import figure). Both must succeed, and the first failure is the answer. As when the two ran one after
 * the other: a refused entry stops the reader but the rest of the upload is still stored (the request is
 * read to its end, so the client gets the 400 and not a reset connection; the blob is named by no
 * event, and prune removes it once the request's lease ends); a failed put (a size limit) stops both and
 * leaves the rest of the request unread; a client gone stops both. The bytes are hashed once for a plain
 * layer (its digest is its diffID), by the store.
 */
export async function putAndInspectLayer(
  content: ContentStore,
  body: Readable,
  put: PutOptions,
  options: InspectOptions,
): Promise<{ blob: BlobInfo; layer: InspectedLayer }> {
  // Room for a write batch of the content store (1 MiB) on each side: the slower consumer does not stall the other at every chunk.
  const toStore = new PassThrough({ highWaterMark: 1 << 20 });
  const toRead = new PassThrough({ highWaterMark: 1 << 20 });
  let first: unknown;
  const storing = content.put(toStore, put).catch((error: unknown) => {
    first ??= error;
    toRead.destroy();
    throw error;
  });
  const stored = storing.then((blob) => blob.digest);
  stored.catch(() => {}); // a failed put is answered through `storing`; the reader may stop before it asks
  const reading = inspectStream(toRead, options, stored).catch((error: unknown) => {
    first ??= error;
    throw error;
  });
  const feeding = tee(body, [toStore, toRead]).catch((error: unknown) => {
    first ??= error;
    toStore.destroy(error as Error);
    toRead.destroy(error as Error);
  });
  const [blob, layer] = await Promise.allSettled([storing, reading]);
  await feeding;
  if (blob.status === 'fulfilled' && layer.status === 'fulfilled') return { blob: blob.value, layer: layer.value };
  throw first;
}

/** Copies `source` into every target, as fast as the slowest takes it; a destroyed target is left out, and none left stops the copy. */
async function tee(source: Readable, targets: PassThrough[]): Promise<void> {
  for await (const chunk of source) {
    const live = targets.filter((t) => !t.destroyed);
    if (live.length === 0) return;
    const full = live.filter((t) => !t.write(chunk));
    // (drainedOrClosed removes both listeners: a race of two once() leaked the loser's, a warning per ten chunks)
    await Promise.all(full.map((t) => drainedOrClosed(t)));
  }
  for (const t of targets) if (!t.destroyed) t.end();
}
