// OCI layer tars: reading (hardened), unpacking into a directory, writing.
export * from './layer-entry.js';
export { readLayer, type LayerReading } from './layer-reader.js';
export { applyLayer, type ApplyLayerOptions, type ApplyProgress } from './apply-layer.js';
export { writeLayer, writeTreeLayer, gzipLayer } from './layer-writer.js';
export { OPAQUE_MARKER, WHITEOUT_PREFIX, normalizeEntryPath } from './entry-paths.js';
export { RootResolver } from './root-resolver.js';
export { drainedOrClosed } from './stream-waits.js';
