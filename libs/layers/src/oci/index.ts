export * from './media-types.js';
export {
  parseManifest,
  parseIndex,
  parseImageConfig,
  checkConfigDescriptor,
  type Platform,
  type Descriptor,
  type ImageManifest,
  type ImageIndex,
  type ImageConfig,
  type ContainerConfig,
  type HistoryEntry,
  type JsonInput,
} from './schemas.js';
export { canonicalJson } from './canonical-json.js';
export { chainIds } from './chain-id.js';
export { hostPlatform, ociArchitecture, formatPlatform, platformMatches } from './platform.js';
export * from './builders.js';
export * from './layer-diff-id.js';
export { resolveImage, type ResolvedImage, type ResolvedLayer, type ResolveImageOptions } from './verify-image.js';
export * from './layout-writer.js';
export * from './archive-reader.js';
