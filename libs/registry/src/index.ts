// libs/registry: the OCI distribution API's pure parts — error codes and bodies, the /v2/ URL
// grammar, ranges, paging, auth challenges — and upload sessions on disk. The node (apps/strata)
// wires them to the content store, the commands and the read models.
export * from './errors.js';
export * from './routes.js';
export * from './ranges.js';
export * from './paging.js';
export * from './challenge.js';
export * from './upload-sessions.js';
export * from './registry-token.js';
export * from './repository-links.js';
export * from './client/index.js';
