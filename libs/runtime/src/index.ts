// libs/runtime: running container processes under runc, supervised by a shim that outlives the node.
export * from './port.js';
export { runtimeConfig, DEFAULT_CAPABILITIES, cgroupPathOf } from './runc/bundle.js';
export { RuncRuntime, type RuncRuntimeOptions } from './runc/runc-runtime.js';
