// The registry client: pull from and push to any distribution-spec registry. Pure of Nest and of the
// event log: HTTP (Node's fetch) on one side, the content store port on the other.
export * from './errors.js';
export * from './reference.js';
export * from './challenge.js';
export * from './platform.js';
export * from './progress.js';
export * from './registry-client.js';
export * from './pull.js';
export * from './push.js';
