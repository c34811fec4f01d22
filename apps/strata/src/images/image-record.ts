import type { ImageCreatedData, ImageOrigin, ImageRunConfig } from '@strata/domain';
import type { ContainerConfig, ResolvedImage } from '@strata/layers';

/** The OCI config's run settings in the event's shape (Docker writes null where OCI omits). */
export function runConfigOf(config: ContainerConfig | null | undefined): ImageRunConfig {
  const c = config ?? {};
  return {
    cmd: c.Cmd ?? null,
    entrypoint: c.Entrypoint ?? null,
    env: c.Env ?? [],
    workingDir: c.WorkingDir || null,
    user: c.User || null,
    labels: c.Labels ?? {},
    exposedPorts: Object.keys(c.ExposedPorts ?? {}).sort(),
    volumes: Object.keys(c.Volumes ?? {}).sort(),
    stopSignal: c.StopSignal ?? null,
  };
}

/** What ImageCreated records of a verified image: enough for every read model, nothing secret. */
export function imageRecord(
  image: ResolvedImage,
  origin: ImageOrigin,
  extra: { source?: string | null; parent?: string | null } = {},
): ImageCreatedData {
  return {
    manifestDigest: image.manifestDigest,
    imageId: image.configDigest,
    manifestMediaType: image.manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
    layers: image.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, size: l.size, mediaType: l.mediaType })),
    chainIds: image.chainIds,
    size: image.layers.reduce((sum, l) => sum + l.size, 0),
    created: image.config.created ?? null,
    author: image.config.author ?? null,
    architecture: image.config.architecture,
    os: image.config.os,
    history: (image.config.history ?? []).map((h) => ({
      created: h.created ?? null,
      createdBy: h.created_by ?? null,
      author: h.author ?? null,
      comment: h.comment ?? null,
      emptyLayer: h.empty_layer === true,
    })),
    config: runConfigOf(image.config.config),
    origin,
    parent: extra.parent ?? null,
    source: extra.source ?? null,
  };
}
