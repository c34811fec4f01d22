export * from './port.js';
export * from './digest.js';
export * from './leases.js';
export * from './fs-content-store.js';
export * from './prune.js';
