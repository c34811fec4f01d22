import type { Readable } from 'node:stream';
import type { ContentLease } from './leases.js';

/** A blob in the content store: addressed by the sha256 of its bytes. */
export interface BlobInfo {
  digest: string; // "sha256:<hex>"
  size: number;
}

export interface PutOptions {
  /** Refuse (DIGEST_MISMATCH) unless the bytes hash to this. */
  expectedDigest?: string;
  /** Refuse (SIZE_MISMATCH) unless the bytes are exactly this long. */
  expectedSize?: number;
  /** Refuse (SIZE_LIMIT) as soon as more than this many bytes arrive. */
  maxSize?: number;
  /**
   * Hold the blob under this lease as soon as its digest is known (before it becomes visible), so a
   * prune running between this put and the event that references the blob cannot remove it.
   */
  lease?: ContentLease;
}

/**
 * Content-addressed, immutable blob storage (layers, configs, manifests), like containerd's content
 * store. A blob becomes visible only once complete and verified: bytes stream into a temp file that is
 * renamed into `blobs/sha256/<hex>` after the digest and size check. Nothing is ever held whole in memory
 * except through `readBytes`, which takes a cap.
 */
export interface ContentStore {
  put(source: AsyncIterable<Uint8Array> | Readable, options?: PutOptions): Promise<BlobInfo>;
  putBytes(data: Uint8Array | string, options?: PutOptions): Promise<BlobInfo>;
  /**
   * Takes a whole file the caller wrote (a registry upload's data) into the store: hashed and checked
   * as `put` does, then moved into place instead of copied. Once it succeeds the file is gone (moved,
   * or removed when the store already had the blob); a failure leaves it to the caller.
   */
  putFile(path: string, options?: PutOptions): Promise<BlobInfo>;
  has(digest: string): Promise<boolean>;
  info(digest: string): Promise<BlobInfo | undefined>;
  /** A stream of the blob, or of [start, end] (inclusive, like HTTP Range). BLOB_UNKNOWN if absent. */
  read(digest: string, range?: { start: number; end?: number }): Readable;
  /** The whole blob in memory; SIZE_LIMIT over maxSize (default 4 MiB: for JSON documents). */
  readBytes(digest: string, maxSize?: number): Promise<Buffer>;
  readJson<T = unknown>(digest: string, maxSize?: number): Promise<T>;
  delete(digest: string): Promise<boolean>;
  list(): AsyncIterable<BlobInfo & { modifiedAt: Date }>;
  /** Where the blob lives on disk, for tools that need a path. */
  pathOf(digest: string): string;
}
