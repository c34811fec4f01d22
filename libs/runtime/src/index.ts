// libs/runtime: running container processes under runc, each supervised by a shim (runc/shim.mjs) that
// outlives the node and speaks to it through files (runc/shim-files.ts).
export * from './port.js';
export { RuncRuntime, type RuncRuntimeOptions, type RuncExitStatus, type ExecIo, type WaitOptions } from './runc/runc-runtime.js';
export { RuntimeError, type RuntimeErrorCode } from './runc/runtime-error.js';
export { ociConfig, processConfig, DOCKER_CAPABILITIES, DOCKER_MASKED_PATHS, DOCKER_READONLY_PATHS, type RuncContainerSpec, type BundleOptions } from './runc/bundle.js';
export { SHIM_FILES, type ShimRecord, type ExitRecord } from './runc/shim-files.js';
