import { createHash, type Hash } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LayerError, layerInvalid } from '../errors.js';
import type { LayerDigests } from './layer-entry.js';

const GZIP_MAGIC = [0x1f, 0x8b];

class Counter {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  add(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }
}

/**
 * The uncompressed bytes of a layer blob, whether it came gzipped (sniffed by its magic bytes, not
 * trusted from a media type) or plain, with both sides hashed on the way through.
 */
export class LayerInput {
  private readonly given = new Counter();
  private readonly tar = new Counter();
  private gzip = false;
  private sourceError: unknown;

  constructor(
    private readonly source: Readable,
    private readonly maxUncompressedBytes: number,
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
    async function* replay() {
      if (start.length > 0) yield start;
      yield* raw;
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

  /** Only meaningful once chunks() has run to the end. */
  digests(): LayerDigests {
    return {
      diffId: `sha256:${this.tar.hash.copy().digest('hex')}`,
      digest: `sha256:${this.given.hash.copy().digest('hex')}`,
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
        const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
        this.given.add(buffer);
        yield buffer;
      }
    } catch (error) {
      this.sourceError = error;
      throw error;
    }
  }
}

function gunzip(compressed: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const inflate = createGunzip();
  // Destroying `inflate` (when the reader stops early) tears the source down too, and vice versa.
  pipeline(Readable.from(compressed, { objectMode: false }), inflate, () => {});
  return inflate;
}
