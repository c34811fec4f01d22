/**
 * What an archive upload sends: a file read from disk piece by piece, or a stream (stdin, a tar built
 * on the fly). Never the whole archive in memory: a layer can be larger than the machine's RAM.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { LocalError, UsageError } from './errors.js';

export interface UploadStream {
  chunks: AsyncIterable<Uint8Array>;
  /** Bytes in total when known in advance (a file), for the progress bar; null otherwise. */
  size: number | null;
  /** Default: sniffed from the first bytes (gzip magic or not). */
  contentType?: string;
}

export interface OpenedUpload {
  chunks: AsyncIterable<Uint8Array>;
  size: number | null;
  contentType: string;
}

const isGzip = (head: Uint8Array): boolean => head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
const archiveType = (head: Uint8Array): string => (isGzip(head) ? 'application/gzip' : 'application/x-tar');

/** Read buffer for files: large enough to keep the connection busy, small enough to be nothing in RAM. */
const FILE_CHUNK = 256 * 1024;

/** A regular file: its size, its content type from its first two bytes, and a lazy read stream. */
export async function openFileUpload(path: string): Promise<OpenedUpload> {
  const stats = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  if (!stats.isFile()) throw new UsageError(`${path}: not a regular file`);
  const handle = await open(path, 'r');
  let head: Uint8Array;
  try {
    const buffer = Buffer.alloc(2);
    const { bytesRead } = await handle.read(buffer, 0, 2, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  return { chunks: readFile(path), size: stats.size, contentType: archiveType(head) };
}

/** Opened only when the request starts reading, closed when it stops (a generator's return). */
async function* readFile(path: string): AsyncGenerator<Uint8Array> {
  try {
    yield* createReadStream(path, { highWaterMark: FILE_CHUNK });
  } catch (error) {
    throw new LocalError(`reading ${path} failed: ${(error as Error).message}`, { cause: error });
  }
}

/** A stream whose content type is not given: its first bytes are read ahead, then sent first. */
export async function openStreamUpload(source: UploadStream): Promise<OpenedUpload> {
  if (source.contentType) return { chunks: source.chunks, size: source.size, contentType: source.contentType };
  const iterator = source.chunks[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let done = false;
  // A pipe may deliver a single byte first: read until the magic number can be told.
  while (headBytes < 2) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    head.push(next.value);
    headBytes += next.value.byteLength;
  }
  const first = Buffer.concat(head);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (first.byteLength > 0) yield first;
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { chunks: chunks(), size: source.size, contentType: archiveType(first) };
}

/** The same chunks, each counted as it is handed on (to the HTTP request: "sent"). */
export async function* counted(chunks: AsyncIterable<Uint8Array>, onChunk: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    onChunk(chunk.byteLength);
    yield chunk;
  }
}
