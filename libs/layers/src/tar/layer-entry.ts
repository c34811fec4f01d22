import type { Readable } from 'node:stream';

/** What a layer entry is. Devices, sockets and vendor types never get this far (they are rejected). */
export type LayerEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo';

/** A whiteout entry: `.wh.<name>` hides `of`; `.wh..wh..opq` hides every lower child of `opaque`. */
export type Whiteout = { of: string } | { opaque: string };

/**
 * One normalized tar entry. `path` is relative to the layer's root with no leading "./" or "/" and no
 * empty, "." or ".." components; the root directory itself is ".". For whiteouts `path` is the
 * whiteout file's own path and `whiteout` says what it hides (relative paths as well).
 */
export interface LayerEntryHeader {
  path: string;
  type: LayerEntryType;
  /** Permission bits only (0o7777), after the setuid policy. */
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  /** Bytes of the body: only files have one. */
  size: number;
  /** Symlinks: the target as written. Hard links: the normalized path of the target inside the layer. */
  linkname?: string;
  whiteout?: Whiteout;
}

export interface LayerEntry extends LayerEntryHeader {
  /**
   * The file's bytes (empty for everything else). Valid until the next entry is asked for; a body
   * left unread is skipped.
   */
  body: Readable;
}

/** What the stream turned out to be, known once it has been read to the end. */
export interface LayerDigests {
  /** sha256 of the uncompressed tar ("sha256:<hex>"): the layer's diffID. */
  diffId: string;
  /** sha256 and length of the bytes as given (the blob: gzip or plain). */
  digest: string;
  size: number;
  uncompressedSize: number;
  gzip: boolean;
}

/**
 * setuid/setgid on regular files (and hard links to them): kept, cleared, or refused. Symlinks and
 * fifos with those bits are always refused; directories always keep setgid (group inheritance) and
 * follow the policy for setuid.
 */
export type SetuidPolicy = 'allow' | 'strip' | 'reject';

export interface ReadLayerOptions {
  setuid?: SetuidPolicy;
  /** Cap on the uncompressed tar (a gzip bomb's defence); SIZE_LIMIT as soon as it is passed. */
  maxUncompressedBytes?: number;
  /**
   * What the reader hashes (SHA-256 is its largest cost per byte after the parse):
   * - `both` (default): the blob as given and the uncompressed tar — one hash for a plain layer, where they are the same bytes;
   * - `tar`: the caller hashes the blob itself (the content store does as it stores it), so only a gzip
   *   layer's uncompressed tar is hashed, and `result(blobDigest)` takes the caller's digest;
   * - `none`: nothing (reading a stored, verified layer for its entries); `result()` throws.
   */
  hash?: LayerHashing;
}

export type LayerHashing = 'both' | 'tar' | 'none';

/** 64 GiB: far over any sane layer, far under a disk-filling bomb. Callers with a budget pass less. */
export const DEFAULT_MAX_UNCOMPRESSED_BYTES = 64 * 1024 ** 3;
