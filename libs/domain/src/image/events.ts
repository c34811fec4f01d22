/** Current schema versions of the image events. Older versions are upcast on read. */
export const IMAGE_SCHEMA = { ImageCreated: 1, ImageDeleted: 1 } as const;

/** How an image came to this node. */
export type ImageOrigin = 'import' | 'load' | 'commit' | 'pull' | 'push' | 'build';
export const IMAGE_ORIGINS: readonly ImageOrigin[] = ['import', 'load', 'commit', 'pull', 'push', 'build'];

/** One layer as the manifest lists it, with its diffID (sha256 of the uncompressed tar). */
export interface ImageLayer {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

/** One row of the image config's history[] (`docker history`). */
export interface ImageHistoryEntry {
  created: string | null;
  createdBy: string | null;
  author: string | null;
  comment: string | null;
  emptyLayer: boolean;
}

/** The parts of the image config a container is made from (OCI `config`, Docker's names in camelCase). */
export interface ImageRunConfig {
  cmd: string[] | null;
  entrypoint: string[] | null;
  env: string[];
  workingDir: string | null;
  user: string | null;
  labels: Record<string, string>;
  exposedPorts: string[];
  volumes: string[];
  stopSignal: string | null;
}

/**
 * Everything the read models need about an image, so projections never read the content store: the
 * documents themselves (manifest, config) stay in the content store under their digests.
 */
export interface ImageCreatedData {
  manifestDigest: string;
  /** Docker's image id: the digest of the config. */
  imageId: string;
  manifestMediaType: string;
  layers: ImageLayer[];
  /** chainIDs of the layer stack, bottom first: the keys of the unpacked layers. */
  chainIds: string[];
  /** Sum of the layer blob sizes (as stored, compressed or not). */
  size: number;
  created: string | null;
  author: string | null;
  architecture: string;
  os: string;
  history: ImageHistoryEntry[];
  config: ImageRunConfig;
  origin: ImageOrigin;
  /** The manifest digest of the image this one was made from (commit, build), if known. */
  parent: string | null;
  /** Where it came from, for people: a file name, an archive's ref name, a registry reference. */
  source: string | null;
}

export type ImageEvent =
  | { type: 'ImageCreated'; schemaVersion: 1; data: ImageCreatedData }
  | {
      type: 'ImageDeleted';
      schemaVersion: 1;
      /** `untagged`: the tags removed with it (`rmi --force`), as "repo:tag". */
      data: { manifestDigest: string; imageId: string; untagged: string[] };
    };

export type ImageEventType = ImageEvent['type'];
export const IMAGE_EVENT_TYPES = Object.keys(IMAGE_SCHEMA) as ImageEventType[];
