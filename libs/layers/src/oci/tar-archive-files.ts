import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { layerGunzip } from '../tar/inflate.js';
import tar, { type Extract } from 'tar-stream';
import type { BlobInfo } from '../content/port.js';
import { LayerError, layerInvalid, layerNotFound } from '../errors.js';
import type { ArchiveFiles, ExpectedBlob, StoreContext } from './archive-files.js';
import { archivePath, linkTarget } from './archive-paths.js';

export interface TarReadContext extends StoreContext {
  /** SIZE_LIMIT once the (uncompressed) archive passes this many bytes. */
  maxArchiveBytes?: number;
  /** Called as the archive is read, with the bytes read so far (uncompressed). */
  onBytes: (bytes: number) => void;
}

/** Top-level metadata of the two formats, and docker save's per-layer `json`/`VERSION`: read into memory. */
const SMALL_FILES = new Set(['oci-layout', 'index.json', 'manifest.json', 'repositories']);
const isSmallFile = (path: string) => {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return SMALL_FILES.has(path) || base.endsWith('.json') || base === 'json' || base === 'VERSION';
};
const NAMED_BLOB = /^blobs\/sha256\/([a-f0-9]{64})$/;
const MAX_LINK_HOPS = 16;

type Entry = Extract extends AsyncIterable<infer T> ? T : never;

/**
 * Reads an image archive from a stream (tar, or gzip of a tar) in one pass. A tar cannot be read out
 * of order, so every blob goes into the content store as it passes (`blobs/sha256/<hex>` verified
 * against its name right away), small JSON files are kept in memory, links are remembered; the format
 * readers then look files up by path. Blobs nobody references stay in the store for prune.
 */
export async function readTarArchive(source: Readable | AsyncIterable<Uint8Array>, context: TarReadContext): Promise<ArchiveFiles> {
  const files = new TarArchiveFiles(context);
  const { head, rest } = await sniff(source);
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const extract = tar.extract();
  let total = 0;
  // Kept aside: Node 20's pipeline can report an error thrown by a generator stage after zlib as a bare AbortError.
  let failure: LayerError | undefined;
  const count = async function* (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) {
      total += chunk.length;
      if (context.maxArchiveBytes !== undefined && total > context.maxArchiveBytes) {
        failure = layerInvalid('SIZE_LIMIT', `archive is larger than the limit of ${context.maxArchiveBytes} bytes (uncompressed)`, { limit: context.maxArchiveBytes });
        throw failure;
      }
      context.onBytes(total);
      yield chunk;
    }
  };
  const feeding = gzip ? pipeline(rest, layerGunzip(), count, extract) : pipeline(rest, count, extract);
  feeding.catch(() => undefined); // observed below; this only stops an unhandled rejection while entries are read
  let entries = 0;
  try {
    for await (const entry of extract) {
      entries++;
      await files.add(entry);
    }
    await feeding;
  } catch (error) {
    extract.destroy();
    throw failure ?? describeFailure(error, entries, gzip);
  }
  return files;
}

class TarArchiveFiles implements ArchiveFiles {
  readonly description = 'archive stream';
  private readonly small = new Map<string, Buffer>();
  private readonly blobs = new Map<string, BlobInfo>();
  private readonly links = new Map<string, string>();

  constructor(private readonly context: StoreContext) {}

  async add(entry: Entry): Promise<void> {
    const { header } = entry;
    const path = archivePath(header.name);
    const type = header.type ?? 'file';
    if (type === 'directory' || path === '') {
      entry.resume();
      return;
    }
    if (this.small.has(path) || this.blobs.has(path) || this.links.has(path)) {
      throw layerInvalid('DUPLICATE_ENTRY', `${path} appears twice in the archive`, { path });
    }
    if (type === 'symlink' || type === 'link') {
      this.links.set(path, linkTarget(path, header.linkname ?? '', type));
      entry.resume();
      return;
    }
    if (type !== 'file' && type !== 'contiguous-file') {
      throw layerInvalid('UNSUPPORTED_ENTRY', `${path} is a ${type}, which has no place in an image archive`, { path, type });
    }
    const named = NAMED_BLOB.exec(path);
    if (named || !isSmallFile(path)) {
      const info = await this.context.store.put(entry as AsyncIterable<Uint8Array>, {
        expectedDigest: named ? `sha256:${named[1]}` : undefined,
        expectedSize: header.size,
        maxSize: this.context.maxBlobBytes,
        lease: this.context.lease,
      });
      this.blobs.set(path, info);
      this.context.onBlob(info);
      return;
    }
    this.small.set(path, await readSmallEntry(entry as AsyncIterable<Uint8Array>, path, this.context.maxJsonBytes));
  }

  async has(path: string): Promise<boolean> {
    const resolved = this.follow(path);
    return this.small.has(resolved) || this.blobs.has(resolved);
  }

  async readSmall(path: string): Promise<Buffer | undefined> {
    const resolved = this.follow(path);
    const blob = this.blobs.get(resolved);
    if (blob) return this.context.store.readBytes(blob.digest, this.context.maxJsonBytes);
    return this.small.get(resolved);
  }

  async putBlob(path: string, expected: ExpectedBlob = {}): Promise<BlobInfo> {
    const resolved = this.follow(path);
    const stored = this.blobs.get(resolved);
    if (stored) {
      if (expected.digest !== undefined && stored.digest !== expected.digest) {
        throw layerInvalid('DIGEST_MISMATCH', `${path} was announced as ${expected.digest} but hashes to ${stored.digest}`, { path, expected: expected.digest, actual: stored.digest });
      }
      if (expected.size !== undefined && stored.size !== expected.size) {
        throw layerInvalid('SIZE_MISMATCH', `${path} is ${stored.size} bytes, but its descriptor says ${expected.size}`, { path, expected: expected.size, actual: stored.size });
      }
      return stored;
    }
    const bytes = this.small.get(resolved);
    if (bytes === undefined) throw layerNotFound('BLOB_UNKNOWN', `${path} is missing from the archive`, { path });
    const info = await this.context.store.putBytes(bytes, { expectedDigest: expected.digest, expectedSize: expected.size, lease: this.context.lease });
    this.context.onBlob(info);
    return info;
  }

  /** The path a (chain of) links leads to. */
  private follow(path: string): string {
    let current = archivePath(path);
    for (let hops = 0; hops < MAX_LINK_HOPS; hops++) {
      const next = this.links.get(current);
      if (next === undefined) return current;
      current = next;
    }
    throw layerInvalid('LINK_ESCAPE', `${path}: too many levels of links in the archive`, { path });
  }
}

async function readSmallEntry(entry: AsyncIterable<Uint8Array>, path: string, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of entry) {
    size += chunk.length;
    if (size > max) throw layerInvalid('SIZE_LIMIT', `${path} is over the ${max} bytes allowed for a JSON document`, { path, limit: max });
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks);
}

/** The first bytes (to tell gzip from tar) and a stream of everything, those bytes included. */
async function sniff(source: Readable | AsyncIterable<Uint8Array>): Promise<{ head: Buffer; rest: Readable }> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  let done = false;
  while (headLength < 2) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    const chunk = Buffer.from(next.value as Uint8Array);
    head.push(chunk);
    headLength += chunk.length;
  }
  async function* all() {
    try {
      yield* head;
      if (done) return;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value as Uint8Array;
      }
    } finally {
      if (!done) await iterator.return?.();
    }
  }
  return { head: Buffer.concat(head), rest: Readable.from(all(), { objectMode: false }) };
}

/** tar-stream and zlib speak in plain Errors; say what they mean for an archive. */
function describeFailure(error: unknown, entries: number, gzip: boolean): unknown {
  if (error instanceof LayerError) return error;
  const message = (error as Error)?.message ?? String(error);
  const code = (error as NodeJS.ErrnoException)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return layerInvalid(entries === 0 ? 'LAYOUT_INVALID' : 'TRUNCATED_ARCHIVE', `archive is not valid gzip: ${message}`);
  }
  if (entries === 0 && (/tar header/i.test(message) || /Unexpected end of data/.test(message) || /Invalid header/.test(message))) {
    return layerInvalid('LAYOUT_INVALID', `not an image archive: the stream is neither a tar nor a gzip of one${gzip ? ' (it is gzip, but what is inside is not a tar)' : ''}`);
  }
  if (/Unexpected end of data/.test(message)) return layerInvalid('TRUNCATED_ARCHIVE', `archive ends in the middle of an entry (after ${entries} entries)`);
  if (/tar header|Invalid header|Header exceeds/.test(message)) return layerInvalid('TRUNCATED_ARCHIVE', `corrupt tar header after ${entries} entries: ${message}`);
  return error;
}
