import type { ContentStore } from '../content/port.js';
import { layerInvalid, layerNotFound } from '../errors.js';
import type { ArchiveFiles } from './archive-files.js';
import { blobPath } from './archive-paths.js';
import { Annotations, isIndexMediaType, isManifestMediaType } from './media-types.js';
import { formatPlatform, platformMatches } from './platform.js';
import { parseIndex, parseManifest, type Descriptor, type Platform } from './schemas.js';

/** An image an archive names: its manifest (already in the store) and the name it goes by. */
export interface FoundImage {
  manifestDigest: string;
  refName?: string;
  /** Set when the manifest was picked from a multi-platform index. */
  indexDigest?: string;
}

const MAX_INDEX_DEPTH = 4;

/**
 * Reads an OCI image layout (image-spec "image-layout"): checks `oci-layout`, walks `index.json`, and
 * puts every blob an image needs into the store, verified against its descriptor. A multi-platform
 * index contributes the one manifest for `platform`; blobs of other platforms are not read.
 */
export async function readOciLayout(files: ArchiveFiles, store: ContentStore, platform: Platform): Promise<FoundImage[]> {
  await checkLayoutVersion(files);
  const indexBytes = await files.readSmall('index.json');
  if (!indexBytes) throw layerInvalid('LAYOUT_INVALID', `${files.description} has no index.json`);
  const index = parseIndex(indexBytes);

  const found: FoundImage[] = [];
  for (const entry of index.manifests) {
    // Docker ≥ 25 and containerd keep the full name in io.containerd.image.name and only the tag in ref.name.
    const refName = entry.annotations?.[Annotations.containerdImageName] ?? entry.annotations?.[Annotations.refName];
    const picked = await pickManifest(files, store, entry, platform, 0);
    if (picked) found.push({ ...picked, refName });
  }
  if (found.length === 0) throw layerInvalid('LAYOUT_INVALID', `index.json of ${files.description} names no image manifest`);

  for (const image of found) {
    const manifest = parseManifest(await store.readBytes(image.manifestDigest));
    await files.putBlob(blobPath(manifest.config.digest), manifest.config);
    for (const layer of manifest.layers) await files.putBlob(blobPath(layer.digest), layer);
  }
  return found;
}

async function checkLayoutVersion(files: ArchiveFiles): Promise<void> {
  const bytes = await files.readSmall('oci-layout');
  if (!bytes) throw layerInvalid('LAYOUT_INVALID', `${files.description} has no oci-layout file`);
  let version: unknown;
  try {
    version = (JSON.parse(bytes.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {
    throw layerInvalid('LAYOUT_INVALID', `oci-layout of ${files.description} is not JSON`);
  }
  if (typeof version !== 'string' || !version.startsWith('1.')) {
    throw layerInvalid('LAYOUT_INVALID', `unsupported OCI image layout version ${JSON.stringify(version)} (1.x is read)`);
  }
}

/** The manifest an index entry stands for on `platform`, stored; undefined for entries that are no image. */
async function pickManifest(files: ArchiveFiles, store: ContentStore, entry: Descriptor, platform: Platform, depth: number): Promise<FoundImage | undefined> {
  if (isManifestMediaType(entry.mediaType)) {
    await files.putBlob(blobPath(entry.digest), entry);
    return { manifestDigest: entry.digest };
  }
  if (!isIndexMediaType(entry.mediaType)) return undefined; // an artifact, a signature…: not ours to load
  if (depth >= MAX_INDEX_DEPTH) throw layerInvalid('INDEX_INVALID', `image indexes nested more than ${MAX_INDEX_DEPTH} deep`);

  await files.putBlob(blobPath(entry.digest), entry);
  const index = parseIndex(await store.readBytes(entry.digest));
  const candidates = index.manifests.filter((m) => (isManifestMediaType(m.mediaType) || isIndexMediaType(m.mediaType)) && platformMatches(m.platform, platform));
  // An exact variant beats an entry that names none.
  const best = candidates.find((m) => m.platform?.variant === platform.variant) ?? candidates[0];
  if (!best) {
    const offered = index.manifests.flatMap((m) => (m.platform ? [formatPlatform(m.platform)] : []));
    throw layerNotFound('PLATFORM_NOT_FOUND', `index ${entry.digest} has no image for ${formatPlatform(platform)} (it has: ${offered.join(', ') || 'none'})`, {
      index: entry.digest,
      wanted: formatPlatform(platform),
      offered,
    });
  }
  const picked = await pickManifest(files, store, best, platform, depth + 1);
  return picked && { manifestDigest: picked.manifestDigest, indexDigest: picked.indexDigest ?? entry.digest };
}
