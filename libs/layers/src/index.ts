// libs/layers: the content store, the OCI codec (layer tars with whiteouts, configs, manifests, layouts),
// the union view over layer blobs and the snapshotters. Other modules use only what this file exports.
export * from './errors.js';
export * from './changes.js';
export * from './content/index.js';
export * from './oci/index.js';
export * from './tar/index.js';
export * from './union/index.js';
export * from './snapshot/index.js';
export * from './unpack.js';
export { mapLimit } from './map-limit.js';
