import { PassThrough, type Readable } from 'node:stream';
import tar from 'tar-stream';
import { layerInvalid } from '../errors.js';
import { EntryChecker } from './entry-checks.js';
import { DEFAULT_MAX_UNCOMPRESSED_BYTES, type LayerDigests, type LayerEntry, type ReadLayerOptions } from './layer-entry.js';
import { LayerInput } from './layer-input.js';
import { drainedOrClosed } from './stream-waits.js';

/** A layer being read: iterate it once for its entries, then ask for its digests. */
export interface LayerReading extends AsyncIterable<LayerEntry> {
  /**
   * The digests and sizes; throws if the entries have not been read to the end, or if the reading was
   * asked to hash nothing. With `hash: 'tar'`, pass the blob's digest the caller computed.
   */
  result(blobDigest?: string): LayerDigests;
}

const BLOCK = 512;

/**
 * Reads an OCI layer tar (plain or gzip) as checked, normalized entries. Every hostile construct is a
 * LayerError naming the entry (see entry-checks.ts and entry-paths.ts for the rules); a stream that ends
 * inside an entry, lacks the end-of-archive block or is not a tar is TRUNCATED_ARCHIVE.
 */
export function readLayer(source: Readable, options: ReadLayerOptions = {}): LayerReading {
  const input = new LayerInput(source, options.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES, options.hash);
  const checker = new EntryChecker(options.setuid ?? 'allow');
  let done = false;
  let started = false;

  async function* entries(): AsyncGenerator<LayerEntry> {
    const extract = tar.extract();
    const feeding = feed(input.chunks(), extract);
    let end = 0; // where the last entry's data ends: the end-of-archive block must follow
    try {
      for await (const raw of extract) {
        const header = raw.header as tar.Header & { byteOffset: number; pax?: Record<string, string> | null };
        // tar-stream reads no data after a directory header, whatever its size field says
        const dataSize = header.type === 'directory' ? 0 : (header.size ?? 0);
        end = header.byteOffset + Math.ceil(dataSize / BLOCK) * BLOCK;
        const entry = checker.check(header);
        if (entry === undefined) {
          await drain(raw);
          continue;
        }
        const body = new PassThrough();
        // The consumer may not be listening yet (or ever); the iteration reports the same error.
        body.on('error', () => {});
        const forwarding = forward(raw, body, (error) => input.asLayerError(error));
        yield { ...entry, body };
        if (!body.readableEnded) body.destroy(); // unread: skip the rest
        await forwarding;
      }
      const failure = await feeding;
      if (failure !== undefined) throw failure;
      if (input.uncompressedBytes < end + BLOCK) {
        throw layerInvalid('TRUNCATED_ARCHIVE', input.uncompressedBytes === 0 ? 'layer: empty stream, not a tar' : 'layer: no end-of-archive block, the tar is truncated');
      }
      done = true;
    } catch (error) {
      throw input.asLayerError(error);
    } finally {
      if (!extract.destroyed) extract.destroy();
      // Stop reading at once, also when the consumer left early or the source is idle.
      if (!source.destroyed) source.destroy();
    }
  }

  return {
    [Symbol.asyncIterator]() {
      if (started) throw new Error('readLayer: a layer stream can be read only once');
      started = true;
      return entries();
    },
    result(blobDigest?: string) {
      if (!done) throw new Error('readLayer: result() is known only after the last entry');
      return input.digests(blobDigest);
    },
  };
}

/** Pushes the tar bytes into the parser with backpressure; a failure stops the parser, and is returned. */
async function feed(chunks: AsyncIterable<Buffer>, extract: tar.Extract): Promise<unknown> {
  try {
    for await (const chunk of chunks) {
      if (extract.destroying || extract.destroyed) return undefined; // the reader stopped: stop reading the source too
      if (!extract.write(chunk)) await drainedOrClosed(extract);
    }
    extract.end(undefined);
    return undefined;
  } catch (error) {
    extract.destroy(error as Error);
    return error;
  }
}

/**
 * Copies one entry's bytes into the body handed out. If the consumer drops the body, the bytes are
 * still read (and discarded) so the parser can move on to the next entry.
 */
async function forward(from: AsyncIterable<unknown>, to: PassThrough, mapError: (error: unknown) => unknown): Promise<void> {
  try {
    for await (const chunk of from) {
      if (to.destroyed) continue;
      if (!to.write(chunk as Buffer)) await drainedOrClosed(to);
    }
    if (!to.destroyed) to.end();
  } catch (error) {
    to.destroy(mapError(error) as Error);
  }
}

async function drain(entry: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of entry) {
    // skipped
  }
}
