import { createHash, type Hash } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import { layerGunzip } from './inflate.js';
import { LayerError, layerInvalid } from '../errors.js';
import type { LayerDigests, LayerHashing } from './layer-entry.js';

const GZIP_MAGIC = [0x1f, 0x8b];

/** Counts bytes, and hashes them once given a hash (whether to is known only after the first bytes: gzip or not). */
class Counter {
  hash: Hash | undefined;
  bytes = 0;
  add(chunk: Buffer): void {
    this.hash?.update(chunk);
    this.bytes += chunk.length;
  }
  digest(): string {
    return `sha256:${this.hash!.copy().digest('hex')}`;
  }
}

/**
 * The uncompressed bytes of a layer blob, whether it came gzipped (sniffed by its magic bytes, not
 * trusted from a media type) or plain, hashed on the way through as `hashing` says (ReadLayerOptions.hash):
 * a plain layer's blob and tar are the same bytes, hashed once.
 */
export class LayerInput {
  /** The blob as given; hashed only when it is not the tar itself (gzip) and its digest is asked for. */
  private readonly given = new Counter();
  /** The uncompressed tar (for a plain layer, the same bytes as `given`). */
  private readonly tar = new Counter();
  private gzip = false;
  private sourceError: unknown;

  constructor(
    private readonly source: Readable,
    private readonly maxUncompressedBytes: number,
    private readonly hashing: LayerHashing = 'both',
  ) {}

  /** The uncompressed tar. Throws SIZE_LIMIT the moment the cap is passed and reads nothing more. */
  async *chunks(): AsyncGenerator<Buffer> {
    const raw = this.rawChunks();
    const head: Buffer[] = [];
    let headLength = 0;
    while (headLength < GZIP_MAGIC.length) {
      const next = await raw.next();
      if (next.done) break;
      head.push(next.value);
      headLength += next.value.length;
    }
    const start = Buffer.concat(head);
    this.gzip = GZIP_MAGIC.every((byte, i) => start[i] === byte);
    // A plain layer's tar is the blob: one hash (the tar side's) serves for both, or none when the caller has the blob's.
    if (this.hashing === 'both' || (this.hashing === 'tar' && this.gzip)) this.tar.hash = createHash('sha256');
    if (this.gzip && this.hashing === 'both') this.given.hash = createHash('sha256');
    const given = this.given;
    async function* replay() {
      if (start.length > 0) {
        given.add(start);
        yield start;
      }
      for await (const chunk of raw) {
        given.add(chunk);
        yield chunk;
      }
    }
    const tar = this.gzip ? gunzip(replay()) : replay();
    for await (const chunk of tar) {
      this.tar.add(chunk);
      if (this.tar.bytes > this.maxUncompressedBytes) {
        throw layerInvalid('SIZE_LIMIT', `layer: more than ${this.maxUncompressedBytes} bytes uncompressed`, {
          maxUncompressedBytes: this.maxUncompressedBytes,
        });
      }
      yield chunk;
    }
  }

  get uncompressedBytes(): number {
    return this.tar.bytes;
  }

  /**
   * Only meaningful once chunks() has run to the end. `blobDigest`: the blob's digest as the caller
   * computed it (required when hashing is `tar`, ignored otherwise).
   */
  digests(blobDigest?: string): LayerDigests {
    if (this.hashing === 'none') throw new Error('readLayer: digests were not asked for (hash: none)');
    let digest: string;
    if (this.hashing === 'tar') {
      if (blobDigest === undefined) throw new Error('readLayer: hash "tar" needs the blob digest the caller computed');
      digest = blobDigest;
    } else {
      digest = this.gzip ? this.given.digest() : this.tar.digest();
    }
    return {
      diffId: this.gzip ? this.tar.digest() : digest,
      digest,
      size: this.given.bytes,
      uncompressedSize: this.tar.bytes,
      gzip: this.gzip,
    };
  }

  /**
   * Our own errors pass through, as do the source's (a failing disk or socket is not a bad archive);
   * anything else came from gunzip or the tar parser: the bytes are not a (whole) tar.
   */
  asLayerError(error: unknown): unknown {
    if (error instanceof LayerError || (error !== undefined && error === this.sourceError)) return error;
    const why = error instanceof Error ? error.message : String(error);
    return layerInvalid('TRUNCATED_ARCHIVE', `layer: truncated or not a tar${this.gzip ? '.gz' : ''} (${why})`, { cause: why });
  }

  private async *rawChunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of this.source) {
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      }
    } catch (error) {
      this.sourceError = error;
      throw error;
    }
  }
}

function gunzip(compressed: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const inflate = layerGunzip();
  // Destroying `inflate` (when the reader stops early) tears the source down too, and vice versa.
  pipeline(Readable.from(compressed, { objectMode: false }), inflate, () => {});
  return inflate;
}
