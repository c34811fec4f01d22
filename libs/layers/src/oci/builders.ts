import { parseDigest, sha256Digest } from '../content/digest.js';
import { layerInvalid } from '../errors.js';
import { canonicalJson } from './canonical-json.js';
import { MediaTypes } from './media-types.js';
import { hostPlatform } from './platform.js';
import {
  descriptorSchema,
  parseImageConfig,
  type ContainerConfig,
  type Descriptor,
  type HistoryEntry,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
} from './schemas.js';

// Builders for documents Strata creates (import, commit, build, the conversion of `docker save`
// archives). Pure: time and everything else come in as arguments, and the bytes are canonical JSON,
// so the same inputs give the same digest.

/** A document as it goes into the content store: its bytes and the descriptor that names them. */
export interface BuiltDocument<T> {
  document: T;
  bytes: Buffer;
  descriptor: Descriptor;
}

export interface NewImageConfigInput {
  diffIds: string[];
  created: Date | string;
  /** One entry per layer (plus `empty_layer` entries for config-only steps), oldest first. */
  history?: HistoryEntry[];
  config?: ContainerConfig;
  /** Defaults to the host's, as `docker import` does. */
  architecture?: string;
  variant?: string;
  os?: string;
  author?: string;
}

export function newImageConfig(input: NewImageConfigInput): ImageConfig {
  const host = hostPlatform();
  const architecture = input.architecture ?? host.architecture;
  const config: ImageConfig = {
    created: timestamp(input.created),
    author: input.author,
    architecture,
    variant: input.variant ?? (input.architecture === undefined ? host.variant : undefined),
    os: input.os ?? 'linux',
    config: input.config ?? {},
    rootfs: { type: 'layers', diff_ids: [...input.diffIds] },
    history: input.history?.map((entry) => ({ ...entry })),
  };
  return checkConfig(config, true);
}

/**
 * The config of a child image: the parent's plus one layer (`diffId`), or plus nothing when `diffId` is
 * null (a config-only build step: the history entry is marked `empty_layer`). `configChanges` fields
 * replace the parent's whole (pass the complete Env, not just the new variable). `created` and
 * `author` of the image are the history entry's. Docker's fields about how the parent was built
 * (container_config, docker_version…) are not inherited; other unknown fields are.
 */
export function withLayer(
  parent: ImageConfig,
  diffId: string | null,
  historyEntry: HistoryEntry & { created: string },
  configChanges: Partial<ContainerConfig> = {},
): ImageConfig {
  if (diffId !== null) parseDigest(diffId);
  const entry: HistoryEntry = { ...historyEntry, created: timestamp(historyEntry.created), empty_layer: diffId === null ? true : undefined };
  const changes = Object.fromEntries(Object.entries(configChanges).filter(([, value]) => value !== undefined));
  const child: ImageConfig = {
    ...withoutBuildFields(parent),
    created: entry.created,
    author: historyEntry.author ?? parent.author,
    config: { ...(parent.config ?? {}), ...changes },
    rootfs: { type: 'layers', diff_ids: diffId === null ? [...parent.rootfs.diff_ids] : [...parent.rootfs.diff_ids, diffId] },
    history: [...(parent.history ?? []), entry],
  };
  // The parent's history is taken as it is: images from elsewhere do not always keep it consistent.
  return checkConfig(child, false);
}

/** Docker fields that describe how the parent itself was built (its container, its daemon): not the child's. */
const PARENT_BUILD_FIELDS = ['container', 'container_config', 'docker_version', 'id', 'parent'];

function withoutBuildFields(config: ImageConfig): ImageConfig {
  return Object.fromEntries(Object.entries(config).filter(([key]) => !PARENT_BUILD_FIELDS.includes(key))) as ImageConfig;
}

export function serializeImageConfig(config: ImageConfig): BuiltDocument<ImageConfig> {
  const checked = checkConfig(config, false);
  const bytes = canonicalJson(checked);
  return { document: checked, bytes, descriptor: { mediaType: MediaTypes.ociConfig, digest: sha256Digest(bytes), size: bytes.length } };
}

/** An OCI image manifest over a config and layers, in canonical bytes. */
export function buildManifest(config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): BuiltDocument<ImageManifest> {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: checkDescriptor(config, 'MANIFEST_INVALID'),
    layers: layers.map((layer) => checkDescriptor(layer, 'MANIFEST_INVALID')),
    annotations: annotations && Object.keys(annotations).length > 0 ? { ...annotations } : undefined,
  };
  const bytes = canonicalJson(manifest);
  return { document: manifest, bytes, descriptor: { mediaType: MediaTypes.ociManifest, digest: sha256Digest(bytes), size: bytes.length } };
}

/** An OCI image index (the `index.json` of a layout), in canonical bytes. */
export function buildIndex(manifests: Descriptor[], annotations?: Record<string, string>): BuiltDocument<ImageIndex> {
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: manifests.map((entry) => checkDescriptor(entry, 'INDEX_INVALID')),
    annotations: annotations && Object.keys(annotations).length > 0 ? { ...annotations } : undefined,
  };
  const bytes = canonicalJson(index);
  return { document: index, bytes, descriptor: { mediaType: MediaTypes.ociIndex, digest: sha256Digest(bytes), size: bytes.length } };
}

function checkDescriptor(descriptor: Descriptor, code: 'MANIFEST_INVALID' | 'INDEX_INVALID'): Descriptor {
  const result = descriptorSchema.safeParse(descriptor);
  if (!result.success) throw layerInvalid(code, `invalid descriptor ${JSON.stringify(descriptor)}: ${result.error.issues[0]?.message}`);
  return result.data;
}

/** Schema-valid (undefined fields dropped) and, if asked, one non-empty history entry per diff_id. */
function checkConfig(config: ImageConfig, historyMustMatch: boolean): ImageConfig {
  const parsed = parseImageConfig(JSON.parse(JSON.stringify(config)) as object);
  const layerEntries = parsed.history?.filter((entry) => !entry.empty_layer).length;
  if (historyMustMatch && parsed.history && parsed.history.length > 0 && layerEntries !== parsed.rootfs.diff_ids.length) {
    throw layerInvalid('CONFIG_INVALID', `history has ${layerEntries} layer entries but rootfs has ${parsed.rootfs.diff_ids.length} diff_ids`);
  }
  return parsed;
}

/** RFC 3339 in UTC, as the OCI spec wants `created`. */
function timestamp(value: Date | string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw layerInvalid('CONFIG_INVALID', `not a date: ${String(value)}`);
  return value instanceof Date ? date.toISOString() : value;
}
