import { randomUUID } from 'node:crypto';
import { mkdir, open, opendir, readdir, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { layerInvalid, layerNotFound } from '../errors.js';
import { DigestCounter, isDigest, parseDigest } from './digest.js';
import { GroupSync } from './group-sync.js';
import type { BlobInfo, ContentStore, PutOptions } from './port.js';

/** JSON documents (manifests, configs, indexes) are small; anything bigger read whole is a mistake or an attack. */
export const DEFAULT_READ_BYTES_LIMIT = 4 * 1024 * 1024;
/** Blob reads: 256 KiB a thread-pool read (hashing a 200 MiB layer read back ran ~20% faster than with 64 KiB). */
const READ_CHUNK = 256 * 1024;
/** putFile hashes a file it has whole: bigger reads, fewer thread-pool round trips. */
const FILE_CHUNK = 1024 * 1024;
/** Temp files untouched this long are leftovers of a crash (a live upload rewrites its file's mtime on every chunk). */
const STALE_INGEST_MS = 60 * 60 * 1000;

const isNotFound = (error: unknown) => (error as NodeJS.ErrnoException)?.code === 'ENOENT';

/**
 * The content store on a local filesystem: `<root>/blobs/sha256/<hex>`, written through
 * `<root>/ingest/<uuid>.tmp` and renamed into place only once verified, so a blob that is visible is
 * always complete and correct. Blobs are read-only files (0444): nothing edits them in place.
 * One store per root per process (the delete/put coordination below is in-process).
 */
export class FsContentStore implements ContentStore {
  readonly blobsDir: string;
  readonly ingestDir: string;
  /** Renames into blobs/ made durable together: puts running at once share a directory fsync. */
  private readonly blobsDirSync: GroupSync;
  /** hex → the unlink in flight, so a put of the same blob waits for it instead of trusting a file about to vanish. */
  private readonly deleting = new Map<string, Promise<boolean>>();

  private constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.ingestDir = join(root, 'ingest');
    this.blobsDirSync = new GroupSync(() => syncDir(this.blobsDir));
  }

  /** Opens (creating if needed) the store under `root`, removing temp files a crash left behind. */
  static async open(root: string): Promise<FsContentStore> {
    const store = new FsContentStore(root);
    await mkdir(store.blobsDir, { recursive: true });
    await mkdir(store.ingestDir, { recursive: true });
    await store.removeStaleIngest(new Date(Date.now() - STALE_INGEST_MS));
    return store;
  }

  async put(source: AsyncIterable<Uint8Array> | Readable, options: PutOptions = {}): Promise<BlobInfo> {
    checkPutOptions(options);
    if (options.expectedDigest !== undefined) {
      // Known digest: hold it first, then a blob already here costs a hash of the input but no write.
      const { hex } = parseDigest(options.expectedDigest);
      options.lease?.add(options.expectedDigest);
      await this.settled(hex);
      const existing = await this.info(options.expectedDigest);
      if (existing) return this.verifyExisting(source, options, existing);
    }
    return this.ingest(source, options);
  }

  putBytes(data: Uint8Array | string, options: PutOptions = {}): Promise<BlobInfo> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return this.put(
      (async function* () {
        yield bytes;
      })(),
      options,
    );
  }

  async putFile(path: string, options: PutOptions = {}): Promise<BlobInfo> {
    checkPutOptions(options);
    const handle = await open(path, 'r');
    try {
      // Read once (the file was just written: from the page cache), hashed and checked like any put.
      const counter = new DigestCounter();
      const buffer = Buffer.allocUnsafe(FILE_CHUNK);
      for (let position = 0; ; ) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        counter.update(buffer.subarray(0, bytesRead));
        checkRunningSize(counter.bytes, options);
      }
      const digest = checkFinal(counter, options);
      try {
        // Moved, not copied: the bytes reach the disk once.
        if ((await this.place(digest, handle, path, options)) === 'present') await unlink(path).catch(() => undefined);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
        // Another filesystem: copied through ingest (which hashes again: it does not take our word).
        const info = await this.ingest(Readable.from(readChunks(path, digest)), { ...options, expectedDigest: digest });
        await unlink(path).catch(() => undefined);
        return info;
      }
      return { digest, size: counter.bytes };
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async has(digest: string): Promise<boolean> {
    return (await this.info(digest)) !== undefined;
  }

  async info(digest: string): Promise<BlobInfo | undefined> {
    const path = this.pathOf(digest);
    try {
      const stats = await stat(path);
      return stats.isFile() ? { digest, size: stats.size } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  read(digest: string, range?: { start: number; end?: number }): Readable {
    const path = this.pathOf(digest);
    if (range) checkRange(range);
    return Readable.from(readChunks(path, digest, range), { objectMode: false });
  }

  async readBytes(digest: string, maxSize = DEFAULT_READ_BYTES_LIMIT): Promise<Buffer> {
    const handle = await openBlob(this.pathOf(digest), digest);
    try {
      const { size } = await handle.stat();
      if (size > maxSize) {
        throw layerInvalid('SIZE_LIMIT', `blob ${digest} is ${size} bytes, more than the ${maxSize} allowed to read whole`, { digest, size, limit: maxSize });
      }
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  async readJson<T = unknown>(digest: string, maxSize = DEFAULT_READ_BYTES_LIMIT): Promise<T> {
    const bytes = await this.readBytes(digest, maxSize);
    try {
      return JSON.parse(bytes.toString('utf8')) as T;
    } catch (error) {
      throw layerInvalid('JSON_INVALID', `blob ${digest} is not JSON: ${(error as Error).message}`, { digest });
    }
  }

  delete(digest: string): Promise<boolean> {
    const path = this.pathOf(digest);
    const { hex } = parseDigest(digest);
    // Registered synchronously, so a put that starts after this call sees it and waits.
    const unlinking = unlink(path).then(
      () => true,
      (error) => {
        if (isNotFound(error)) return false;
        throw error;
      },
    );
    this.deleting.set(hex, unlinking);
    const forget = () => {
      if (this.deleting.get(hex) === unlinking) this.deleting.delete(hex);
    };
    unlinking.then(forget, forget);
    return unlinking;
  }

  async *list(): AsyncIterable<BlobInfo & { modifiedAt: Date }> {
    // opendir streams the names: a store can hold more blobs than is pleasant to list in one array.
    for await (const entry of await opendir(this.blobsDir)) {
      const name = entry.name;
      const digest = `sha256:${name}`;
      if (!isDigest(digest)) continue; // not ours (an editor's swap file, a stray copy): never touched
      try {
        const stats = await stat(join(this.blobsDir, name));
        if (stats.isFile()) yield { digest, size: stats.size, modifiedAt: stats.mtime };
      } catch (error) {
        if (!isNotFound(error)) throw error; // deleted while listing
      }
    }
  }

  pathOf(digest: string): string {
    return join(this.blobsDir, parseDigest(digest).hex);
  }

  /** Removes temp files last written before `olderThan`; returns how many. */
  async removeStaleIngest(olderThan: Date): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.ingestDir)) {
      const path = join(this.ingestDir, name);
      try {
        if ((await stat(path)).mtime < olderThan) {
          await unlink(path);
          removed++;
        }
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return removed;
  }

  private async settled(hex: string): Promise<void> {
    await this.deleting.get(hex)?.catch(() => undefined);
  }

  /** The blob is already stored: hash the input anyway (the caller asked for a check), write nothing. */
  private async verifyExisting(source: AsyncIterable<Uint8Array>, options: PutOptions, existing: BlobInfo): Promise<BlobInfo> {
    const counter = new DigestCounter();
    for await (const chunk of source) {
      counter.update(toBytes(chunk));
      checkRunningSize(counter.bytes, options);
    }
    checkFinal(counter, options);
    // A fresh mtime puts the re-put blob inside prune's grace period again.
    const now = new Date();
    await utimes(this.pathOf(existing.digest), now, now).catch((error) => {
      if (!isNotFound(error)) throw error;
    });
    return existing;
  }

  private async ingest(source: AsyncIterable<Uint8Array>, options: PutOptions): Promise<BlobInfo> {
    const temp = join(this.ingestDir, `${randomUUID()}.tmp`);
    const handle = await open(temp, 'wx', 0o444);
    let placed = false;
    try {
      const counter = new DigestCounter();
      const writer = new BatchedWriter(handle);
      for await (const chunk of source) {
        const bytes = toBytes(chunk);
        counter.update(bytes);
        checkRunningSize(counter.bytes, options);
        await writer.add(bytes);
      }
      await writer.flush();
      const digest = checkFinal(counter, options);
      placed = (await this.place(digest, handle, temp, options)) === 'placed';
      return { digest, size: counter.bytes };
    } finally {
      await handle.close().catch(() => undefined);
      if (!placed) await unlink(temp).catch(() => undefined);
    }
  }

  /**
   * The end of every put, once the bytes are verified: the blob is held by the caller's lease, then
   * either the store has it already (a concurrent put of the same blob: theirs is as good as ours; its
   * mtime is refreshed for prune's grace period) or `file` (open as `handle`) is fsynced, made read-only
   * and renamed into place, and the rename made durable (it must survive a crash once an event names it).
   */
  private async place(digest: string, handle: FileHandle, file: string, options: PutOptions): Promise<'placed' | 'present'> {
    options.lease?.add(digest);
    const { hex } = parseDigest(digest);
    await this.settled(hex);
    const final = join(this.blobsDir, hex);
    if (await this.has(digest)) {
      const now = new Date();
      await utimes(final, now, now).catch(() => undefined);
      return 'present';
    }
    await handle.sync();
    await handle.chmod(0o444);
    await rename(file, final);
    await this.blobsDirSync.sync();
    return 'placed';
  }
}

function toBytes(chunk: Uint8Array | string): Uint8Array {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}

/** Bytes gathered into one write (a socket gives ~64 KiB chunks: one thread-pool write each was most of an import's wall time). */
const WRITE_BATCH = 1 << 20;

/**
 * Writes a stream of chunks in batches of WRITE_BATCH, one batch in flight while the next is gathered:
 * reading (and hashing) the input overlaps with the disk instead of waiting for every chunk's write.
 * A failed write is thrown by the next add() or by flush().
 */
class BatchedWriter {
  private batch: Uint8Array[] = [];
  private size = 0;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(private readonly handle: FileHandle) {}

  async add(bytes: Uint8Array): Promise<void> {
    this.batch.push(bytes);
    this.size += bytes.length;
    if (this.size >= WRITE_BATCH) await this.send();
  }

  async flush(): Promise<void> {
    await this.send();
    await this.inFlight;
  }

  private async send(): Promise<void> {
    await this.inFlight; // one batch in flight at a time; its failure surfaces here
    if (this.size === 0) return;
    const bytes = this.batch.length === 1 ? this.batch[0] : Buffer.concat(this.batch, this.size);
    this.batch = [];
    this.size = 0;
    this.inFlight = writeAll(this.handle, bytes);
    this.inFlight.catch(() => undefined); // awaited by the next send() or flush(): not unhandled meanwhile
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

function checkPutOptions(options: PutOptions): void {
  for (const key of ['expectedSize', 'maxSize'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) throw new TypeError(`PutOptions.${key} must be a non-negative integer, got ${value}`);
  }
  if (options.expectedDigest !== undefined) parseDigest(options.expectedDigest);
}

/** Stops a stream as soon as it is known to be too long, not after writing all of it. */
function checkRunningSize(bytes: number, options: PutOptions): void {
  if (options.maxSize !== undefined && bytes > options.maxSize) {
    throw layerInvalid('SIZE_LIMIT', `blob is larger than the limit of ${options.maxSize} bytes`, { limit: options.maxSize });
  }
  if (options.expectedSize !== undefined && bytes > options.expectedSize) {
    throw layerInvalid('SIZE_MISMATCH', `blob${forDigest(options)} is longer than the announced ${options.expectedSize} bytes`, { expected: options.expectedSize });
  }
}

function checkFinal(counter: DigestCounter, options: PutOptions): string {
  if (options.expectedSize !== undefined && counter.bytes !== options.expectedSize) {
    throw layerInvalid('SIZE_MISMATCH', `blob${forDigest(options)} is ${counter.bytes} bytes, announced as ${options.expectedSize}`, { expected: options.expectedSize, actual: counter.bytes });
  }
  const digest = counter.digest();
  if (options.expectedDigest !== undefined && digest !== options.expectedDigest) {
    throw layerInvalid('DIGEST_MISMATCH', `blob announced as ${options.expectedDigest} hashes to ${digest}`, { expected: options.expectedDigest, actual: digest });
  }
  return digest;
}

const forDigest = (options: PutOptions) => (options.expectedDigest ? ` ${options.expectedDigest}` : '');

function checkRange(range: { start: number; end?: number }): void {
  const ok = Number.isSafeInteger(range.start) && range.start >= 0 && (range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start));
  if (!ok) throw layerInvalid('RANGE_INVALID', `invalid range ${range.start}-${range.end ?? ''}`, { ...range });
}

async function openBlob(path: string, digest: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (error) {
    if (isNotFound(error)) throw layerNotFound('BLOB_UNKNOWN', `blob ${digest} is not in the content store`, { digest });
    throw error;
  }
}

async function* readChunks(path: string, digest: string, range?: { start: number; end?: number }): AsyncGenerator<Buffer> {
  const handle = await openBlob(path, digest);
  try {
    const { size } = await handle.stat();
    const start = range?.start ?? 0;
    if (range && start >= size) {
      throw layerInvalid('RANGE_INVALID', `range starts at ${start}, past the end of blob ${digest} (${size} bytes)`, { digest, size, ...range });
    }
    const end = Math.min(range?.end ?? size - 1, size - 1); // inclusive, clamped like HTTP
    for (let position = start; position <= end; ) {
      const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, end - position + 1));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
