import type { Readable } from 'node:stream';
import { DEFAULT_READ_BYTES_LIMIT } from '../content/fs-content-store.js';
import type { ContentLease } from '../content/leases.js';
import type { ContentStore } from '../content/port.js';
import { layerInvalid } from '../errors.js';
import { DirArchiveFiles, type ArchiveFiles, type StoreContext } from './archive-files.js';
import { readDockerSave } from './docker-save-reader.js';
import { DEFAULT_MAX_UNCOMPRESSED_LAYER_BYTES } from './layer-diff-id.js';
import { readOciLayout, type FoundImage } from './oci-layout-reader.js';
import { hostPlatform } from './platform.js';
import type { Platform } from './schemas.js';
import { readTarArchive } from './tar-archive-files.js';
import { resolveImage, type ResolvedImage } from './verify-image.js';

export type ArchiveSource = { dir: string } | { stream: Readable | AsyncIterable<Uint8Array> };

export interface LoadProgress {
  /** reading: blobs going into the store; verifying: layers being uncompressed to check diff_ids. */
  phase: 'reading' | 'verifying' | 'done';
  /** Bytes read so far (of the uncompressed archive for a stream, of blobs for a directory). */
  bytes: number;
  /** Blobs that reached the store so far. */
  blobs: number;
}

export interface LoadArchiveOptions {
  /** Holds every blob the load stores until the caller has appended its event (and releases the lease). */
  lease?: ContentLease;
  /** Which image of a multi-platform index to load; default linux on the host's architecture. */
  platform?: Platform;
  /** SIZE_LIMIT for a blob over this (default 16 GiB). */
  maxBlobBytes?: number;
  /** SIZE_LIMIT for a JSON file over this (default 4 MiB). */
  maxJsonBytes?: number;
  /** SIZE_LIMIT for a stream whose uncompressed tar passes this (default: no limit but the per-blob one). */
  maxArchiveBytes?: number;
  /** SIZE_LIMIT for a layer uncompressing to more (a gzip bomb; default 16 GiB). */
  maxUncompressedBytes?: number;
  onProgress?: (progress: LoadProgress) => void;
}

export interface LoadedImage extends ResolvedImage {
  /** The name the archive gives the image (index.json's ref name, or a docker save RepoTag). */
  refName?: string;
  /** The image's platform, from its config. */
  platform: Platform;
  /** When the image was picked from a multi-platform index: that index. */
  indexDigest?: string;
}

const PROGRESS_STEP = 8 * 1024 * 1024;

/**
 * Loads images from an archive into the content store: an OCI image layout (a directory, or a tar or
 * tar.gz of one) or a `docker save` tarball (converted to OCI; when it also has index.json — Docker ≥ 25 —
 * that is read instead of manifest.json). Blobs stream into the store, verified. Every image is
 * checked whole with `resolveImage` before this returns; on any error it throws a LayerError and the
 * caller records nothing (blobs already stored are left for prune, or held by `lease` until released).
 */
export async function loadArchive(store: ContentStore, source: ArchiveSource, options: LoadArchiveOptions = {}): Promise<LoadedImage[]> {
  const platform = options.platform ?? hostPlatform();
  const progress = { bytes: 0, blobs: 0, reported: 0 };
  const report = (phase: LoadProgress['phase'], force = false) => {
    if (!options.onProgress || (!force && progress.bytes - progress.reported < PROGRESS_STEP)) return;
    progress.reported = progress.bytes;
    options.onProgress({ phase, bytes: progress.bytes, blobs: progress.blobs });
  };
  const context: StoreContext = {
    store,
    lease: options.lease,
    maxBlobBytes: options.maxBlobBytes ?? DEFAULT_MAX_UNCOMPRESSED_LAYER_BYTES,
    maxJsonBytes: options.maxJsonBytes ?? DEFAULT_READ_BYTES_LIMIT,
    onBlob: (info) => {
      progress.blobs++;
      if ('dir' in source) progress.bytes += info.size;
      report('reading', true);
    },
  };

  const files: ArchiveFiles =
    'dir' in source
      ? await DirArchiveFiles.open(source.dir, context)
      : await readTarArchive(source.stream, {
          ...context,
          maxArchiveBytes: options.maxArchiveBytes,
          onBytes: (bytes) => {
            progress.bytes = bytes;
            report('reading');
          },
        });

  const found = await readImages(files, store, platform, options.lease);

  report('verifying', true);
  const diffIdCache = new Map<string, string>();
  const loaded: LoadedImage[] = [];
  for (const image of found) {
    const resolved = await resolveImage(store, image.manifestDigest, {
      maxUncompressedBytes: options.maxUncompressedBytes,
      maxDocumentBytes: context.maxJsonBytes,
      diffIdCache,
    });
    const { architecture, os, variant } = resolved.config;
    loaded.push({ ...resolved, refName: image.refName, platform: variant ? { architecture, os, variant } : { architecture, os }, indexDigest: image.indexDigest });
  }
  report('done', true);
  return loaded;
}

/** Which format the files are, by the metadata they carry, and the images it names. */
async function readImages(files: ArchiveFiles, store: ContentStore, platform: Platform, lease: ContentLease | undefined): Promise<FoundImage[]> {
  if ((await files.has('index.json')) && (await files.has('oci-layout'))) return readOciLayout(files, store, platform);
  if (await files.has('manifest.json')) return readDockerSave(files, store, lease);
  throw layerInvalid('LAYOUT_INVALID', `${files.description} is neither an OCI image layout (oci-layout + index.json) nor a docker save archive (manifest.json)`);
}
