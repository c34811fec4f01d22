import { pipeline } from 'node:stream/promises';
import { layerGunzip } from '../tar/inflate.js';
import { DigestCounter } from '../content/digest.js';
import type { ContentStore } from '../content/port.js';
import { LayerError, layerInvalid } from '../errors.js';
import { layerCompression } from './media-types.js';
import type { Descriptor } from './schemas.js';

/** The default cap on a layer's uncompressed size: beyond it, a "layer" is a gzip bomb, not a filesystem. */
export const DEFAULT_MAX_UNCOMPRESSED_LAYER_BYTES = 16 * 1024 ** 3;

export interface LayerDiffIdOptions {
  /** SIZE_LIMIT once the uncompressed stream passes this. */
  maxUncompressedBytes?: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const startsWith = (head: Buffer, magic: number[]) => magic.every((byte, i) => head[i] === byte);

/**
 * The diffID of a stored layer: the sha256 of its uncompressed tar, streamed. Gzip is recognised by
 * the media type or by its magic bytes (some tools label gzip layers as plain tar). Zstd cannot be
 * decompressed by Node 20: UNSUPPORTED_MEDIA_TYPE.
 */
export async function layerDiffId(store: ContentStore, descriptor: Pick<Descriptor, 'digest' | 'mediaType'>, options: LayerDiffIdOptions = {}): Promise<string> {
  const { digest } = descriptor;
  const { gzip } = await layerEncoding(store, descriptor);
  const max = options.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_LAYER_BYTES;
  const counter = new DigestCounter();
  // Kept aside: Node 20's pipeline reports an error thrown by its last stage after a zlib stream as a bare AbortError.
  let failure: LayerError | undefined;
  const hash = async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      counter.update(chunk);
      if (counter.bytes > max) {
        failure = layerInvalid('SIZE_LIMIT', `layer ${digest} uncompresses to more than the limit of ${max} bytes`, { digest, limit: max });
        throw failure;
      }
    }
  };
  try {
    if (gzip) await pipeline(store.read(digest), layerGunzip(), hash);
    else await pipeline(store.read(digest), hash);
  } catch (error) {
    if (failure) throw failure;
    if (error instanceof LayerError) throw error;
    if (typeof (error as NodeJS.ErrnoException).code === 'string' && (error as NodeJS.ErrnoException).code!.startsWith('Z_')) {
      throw layerInvalid('TRUNCATED_ARCHIVE', `layer ${digest} is not valid gzip: ${(error as Error).message}`, { digest });
    }
    throw error;
  }
  return counter.digest();
}

/**
 * How a stored layer is to be uncompressed: gzip when its media type or its first bytes say so.
 * UNSUPPORTED_MEDIA_TYPE when it is not a layer, or zstd (Node 20 cannot decompress it).
 */
export async function layerEncoding(store: ContentStore, descriptor: Pick<Descriptor, 'digest' | 'mediaType'>): Promise<{ gzip: boolean }> {
  const { digest, mediaType } = descriptor;
  const compression = layerCompression(mediaType);
  if (compression === undefined) throw layerInvalid('UNSUPPORTED_MEDIA_TYPE', `layer ${digest} has media type ${mediaType}, not a layer`, { digest, mediaType });
  const head = await readHead(store, digest);
  if (compression === 'zstd' || startsWith(head, ZSTD_MAGIC)) {
    throw layerInvalid('UNSUPPORTED_MEDIA_TYPE', `layer ${digest} is zstd-compressed, which this node cannot decompress`, { digest, mediaType });
  }
  return { gzip: compression === 'gzip' || startsWith(head, GZIP_MAGIC) };
}

async function readHead(store: ContentStore, digest: string): Promise<Buffer> {
  const info = await store.info(digest);
  if (!info) return store.readBytes(digest, 0); // throws BLOB_UNKNOWN
  if (info.size === 0) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of store.read(digest, { start: 0, end: 3 })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
