// Reading an image's filesystem straight from its layer blobs (ls-files, cat), without unpacking.
export { UnionView, type UnionListOptions } from './union-view.js';
export type { LayerOpener, UnionEntry } from './union-index.js';
