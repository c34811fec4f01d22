/**
 * Media types of the OCI image spec and of Docker's image manifest v2 schema 2, which OCI grew out of
 * and which registries and `docker save` still produce. We read both; we write OCI.
 */
export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export type LayerCompression = 'none' | 'gzip' | 'zstd';

const LAYER_COMPRESSION: Record<string, LayerCompression> = {
  [MediaTypes.ociLayer]: 'none',
  [MediaTypes.ociLayerGzip]: 'gzip',
  [MediaTypes.ociLayerZstd]: 'zstd',
  [MediaTypes.ociLayerNondistributable]: 'none',
  [MediaTypes.ociLayerNondistributableGzip]: 'gzip',
  [MediaTypes.dockerLayer]: 'none',
  [MediaTypes.dockerLayerGzip]: 'gzip',
  [MediaTypes.dockerLayerForeignGzip]: 'gzip',
};

/** How a layer of this media type is compressed, or undefined when it is not a layer type we know. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return LAYER_COMPRESSION[mediaType];
}

export const isLayerMediaType = (mediaType: string): boolean => layerCompression(mediaType) !== undefined;
export const isManifestMediaType = (mediaType: string): boolean => mediaType === MediaTypes.ociManifest || mediaType === MediaTypes.dockerManifest;
export const isIndexMediaType = (mediaType: string): boolean => mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList;
export const isConfigMediaType = (mediaType: string): boolean => mediaType === MediaTypes.ociConfig || mediaType === MediaTypes.dockerConfig;

/** Annotation keys we read and write. */
export const Annotations = {
  refName: 'org.opencontainers.image.ref.name',
  /** containerd and Docker ≥ 25 put the full image name here (ref.name then holds only the tag). */
  containerdImageName: 'io.containerd.image.name',
} as const;
