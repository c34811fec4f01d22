/**
 * Errors of the layer machinery. Each carries a stable code that the HTTP layer maps to a status and
 * clients match on. `kind` says whose fault it is: `invalid` (the input: a hostile or broken archive,
 * a wrong digest), `not-found` (a blob or snapshot that is not there), `conflict` (a state clash, e.g.
 * a snapshot key already in use), `unavailable` (the machine cannot do it: no root, no overlayfs).
 */
export type LayerErrorKind = 'invalid' | 'not-found' | 'conflict' | 'unavailable';

export type LayerErrorCode =
  // archives (tar/gzip)
  | 'UNSAFE_PATH' // `..`, an absolute path that cannot be made relative, NUL bytes
  | 'LINK_ESCAPE' // a symlink or hard link that points outside the root
  | 'DEVICE_NODE' // character/block devices are never unpacked
  | 'SETUID_NOT_ALLOWED' // setuid/setgid where the policy forbids it
  | 'DUPLICATE_ENTRY' // the same path twice in one layer
  | 'TRUNCATED_ARCHIVE' // the stream ended inside an entry, or is not a tar at all
  | 'SIZE_LIMIT' // uncompressed size over the cap (gzip bomb)
  | 'UNSUPPORTED_ENTRY' // a tar entry type we do not unpack
  // paths inside an image (union view) or a layer (a hard link's target)
  | 'PATH_NOT_FOUND' // no such path (hidden by a whiteout counts as none)
  | 'NOT_A_FILE' // a directory (or fifo) where a regular file's bytes were asked for
  // content
  | 'DIGEST_INVALID' // not "sha256:<64 hex>"
  | 'DIGEST_MISMATCH' // the bytes do not hash to the digest they were announced with
  | 'SIZE_MISMATCH' // the bytes are not as long as announced
  | 'BLOB_UNKNOWN'
  | 'RANGE_INVALID' // a read range outside the blob (HTTP 416)
  | 'JSON_INVALID' // a blob read as JSON is not JSON
  // OCI documents
  | 'MANIFEST_INVALID'
  | 'CONFIG_INVALID'
  | 'INDEX_INVALID'
  | 'DIFF_ID_MISMATCH' // a config's rootfs.diff_ids do not match its layers
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'LAYOUT_INVALID' // not an OCI image layout nor a docker-save archive
  | 'PLATFORM_NOT_FOUND' // a multi-platform index has no manifest for the wanted platform
  // snapshots
  | 'SNAPSHOT_NOT_FOUND'
  | 'SNAPSHOT_EXISTS'
  | 'SNAPSHOT_NOT_ACTIVE'
  | 'SNAPSHOT_IN_USE' // a committed snapshot that others are based on
  | 'SNAPSHOTTER_UNAVAILABLE';

export class LayerError extends Error {
  constructor(
    readonly kind: LayerErrorKind,
    readonly code: LayerErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'LayerError';
  }
}

export const layerInvalid = (code: LayerErrorCode, message: string, details?: Record<string, unknown>) =>
  new LayerError('invalid', code, message, details);
export const layerNotFound = (code: LayerErrorCode, message: string, details?: Record<string, unknown>) =>
  new LayerError('not-found', code, message, details);
export const layerConflict = (code: LayerErrorCode, message: string, details?: Record<string, unknown>) =>
  new LayerError('conflict', code, message, details);
export const layerUnavailable = (code: LayerErrorCode, message: string, details?: Record<string, unknown>) =>
  new LayerError('unavailable', code, message, details);
