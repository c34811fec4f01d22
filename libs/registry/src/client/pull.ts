import {
  checkConfigDescriptor,
  formatPlatform,
  isIndexMediaType,
  isLayerMediaType,
  LayerError,
  mapLimit,
  parseIndex,
  parseManifest,
  type ContentLease,
  type ContentStore,
  type Descriptor,
  type Platform,
} from '@strata/layers';
import { RegistryClientError } from './errors.js';
import { choosePlatformManifest } from './platform.js';
import { networkReason, type RegistryClient } from './registry-client.js';
import { sleep, type BlobProgress } from './progress.js';

export interface PullImageOptions {
  store: ContentStore;
  /** Holds every blob of the image from the moment it is known until the caller records the image. */
  lease?: ContentLease;
  /** Chosen from an index; a plain manifest is taken whatever its platform (as Docker does). */
  platform: Platform;
  /** Largest blob accepted (the descriptor's size is the remote's claim, checked before a byte is read). */
  maxBlobBytes: number;
  /** Told once the manifest is resolved, before any blob moves. */
  onPlan?: (plan: PullPlan) => void;
  onProgress?: (progress: BlobProgress) => void;
  /** Blobs downloaded at once (default 3, as Docker). */
  concurrency?: number;
  /** Range resumptions of one blob after dropped connections (default 5). */
  maxResumes?: number;
  /** A blob download that receives nothing for this long is dropped and resumed (default 60 s). */
  idleTimeoutMs?: number;
  /** Pause before a resumption (default 200 ms, doubling). */
  retryDelayMs?: number;
}

export interface PullPlan {
  /** The image manifest pulled (the platform's, when the reference named an index). */
  manifestDigest: string;
  manifestMediaType: string;
  /** The index the reference named, if it named one. */
  indexDigest: string | null;
  /** The platform chosen from the index. */
  platform: string | null;
  /** Config first, then the layers, without repeats. */
  blobs: Descriptor[];
}

export interface PulledImage extends PullPlan {
  downloaded: number;
  existing: number;
  /** Bytes that came over the network (resumptions do not count twice). */
  downloadedBytes: number;
  resumes: number;
}

/**
 * Pulls one image into the content store: the manifest (resolving an index to the platform's
 * manifest), then the config and layers, each streamed into the store's ingest with its digest and
 * size as the expectation, so a blob becomes visible only when its bytes are exactly what the
 * manifest names: a registry is never trusted. Blobs already in the store are not downloaded. A
 * dropped connection is resumed with a Range request from the last byte received. The manifest is
 * stored last. Nothing is recorded here: the caller verifies the whole image and records it.
 */
export async function pullImage(client: RegistryClient, repository: string, reference: string, options: PullImageOptions): Promise<PulledImage> {
  const where = `${client.registry}/${repository}`;
  let fetched = await client.getManifest(repository, reference);
  let indexDigest: string | null = null;
  let platform: string | null = null;
  if (isIndexMediaType(fetched.mediaType)) {
    const index = parseOrRefuse(() => parseIndex(fetched.bytes), where);
    const chosen = choosePlatformManifest(index.manifests, options.platform);
    indexDigest = fetched.digest;
    platform = chosen.platform ? formatPlatform(chosen.platform) : null;
    fetched = await client.getManifest(repository, chosen.digest);
    if (fetched.bytes.length !== chosen.size) {
      throw new RegistryClientError('SIZE_MISMATCH', `${where}: manifest ${chosen.digest} is ${fetched.bytes.length} bytes, the index says ${chosen.size}`);
    }
    if (isIndexMediaType(fetched.mediaType)) throw new RegistryClientError('UNSUPPORTED_MEDIA_TYPE', `${where}: the index points at another index (${chosen.digest})`);
  }
  const manifest = parseOrRefuse(() => parseManifest(fetched.bytes), where);
  parseOrRefuse(() => checkConfigDescriptor(manifest.config), where);
  for (const layer of manifest.layers) {
    if (!isLayerMediaType(layer.mediaType)) {
      throw new RegistryClientError('UNSUPPORTED_MEDIA_TYPE', `${where}: layer ${layer.digest} has media type ${layer.mediaType}, not an image layer`);
    }
    if (layer.urls?.length) throw new RegistryClientError('UNSUPPORTED_MEDIA_TYPE', `${where}: layer ${layer.digest} is a foreign layer (urls); not pulled`);
  }
  const blobs = uniqueBlobs([manifest.config, ...manifest.layers]);
  for (const blob of blobs) {
    if (blob.size > options.maxBlobBytes) {
      throw new RegistryClientError('SIZE_LIMIT', `${where}: blob ${blob.digest} is ${blob.size} bytes, over this node's limit of ${options.maxBlobBytes}`);
    }
  }
  const plan: PullPlan = { manifestDigest: fetched.digest, manifestMediaType: manifest.mediaType ?? fetched.mediaType, indexDigest, platform, blobs };
  options.onPlan?.(plan);

  let downloaded = 0;
  let existing = 0;
  let downloadedBytes = 0;
  let resumes = 0;
  await mapLimit(blobs, options.concurrency ?? 3, async (blob) => {
    options.lease?.add(blob.digest);
    const have = await options.store.info(blob.digest);
    if (have && have.size === blob.size) {
      existing++;
      options.onProgress?.({ digest: blob.digest, mediaType: blob.mediaType, size: blob.size, bytes: blob.size, status: 'exists' });
      return;
    }
    const result = await downloadBlob(client, repository, blob, options);
    downloaded++;
    downloadedBytes += result.bytes;
    resumes += result.resumes;
    options.onProgress?.({ digest: blob.digest, mediaType: blob.mediaType, size: blob.size, bytes: blob.size, status: 'done' });
  });
  await options.store.putBytes(fetched.bytes, { expectedDigest: fetched.digest, lease: options.lease });
  return { ...plan, downloaded, existing, downloadedBytes, resumes };
}

/** The registry answered a Range request with the whole blob: start this blob over. */
class RestartDownload extends Error {}

/**
 * One blob into the store. The body is a generator that survives dropped connections: it asks again
 * with `Range: bytes=<received>-` and carries on where it was, so the store sees one stream and hashes
 * it once. Any byte the registry gets wrong shows as DIGEST_MISMATCH / SIZE_MISMATCH from the store,
 * which then leaves nothing behind.
 */
async function downloadBlob(
  client: RegistryClient,
  repository: string,
  blob: Descriptor,
  options: PullImageOptions,
): Promise<{ bytes: number; resumes: number }> {
  const maxResumes = options.maxResumes ?? 5;
  const idleMs = options.idleTimeoutMs ?? 60_000;
  const delay = options.retryDelayMs ?? 200;
  const where = `${client.registry}/${repository}`;
  let resumes = 0;
  let network = 0;
  for (let restart = 0; ; restart++) {
    let received = 0;
    const report = (status: BlobProgress['status']) =>
      options.onProgress?.({ digest: blob.digest, mediaType: blob.mediaType, size: blob.size, bytes: received, status });
    async function* body(): AsyncGenerator<Uint8Array> {
      let failures = 0;
      for (;;) {
        const idle = new AbortController();
        let timer: NodeJS.Timeout | undefined;
        const arm = () => {
          clearTimeout(timer);
          timer = setTimeout(() => idle.abort(), idleMs);
        };
        arm();
        try {
          const { res, partial } = await client.openBlob(repository, blob.digest, received, idle.signal);
          if (received > 0 && !partial) {
            await res.body?.cancel().catch(() => undefined);
            throw new RestartDownload();
          }
          if (received > 0) report('resumed');
          if (!res.body) throw new RegistryClientError('REGISTRY_PROTOCOL', `${where}: blob ${blob.digest} answered without a body`);
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            arm();
            received += chunk.byteLength;
            network += chunk.byteLength;
            if (received > blob.size) {
              throw new RegistryClientError('SIZE_MISMATCH', `${where}: blob ${blob.digest} is longer than the ${blob.size} bytes its descriptor says: refused`);
            }
            report('downloading');
            yield chunk;
          }
          if (received === blob.size) return;
          // The connection ended early without an error: a dropped connection all the same.
          throw Object.assign(new Error(`the connection closed after ${received} of ${blob.size} bytes`), { transient: true });
        } catch (error) {
          if (error instanceof RestartDownload || !isTransient(error, idle.signal)) throw error;
          failures++;
          if (failures > maxResumes) {
            throw new RegistryClientError('REGISTRY_UNREACHABLE', `${where}: blob ${blob.digest} kept failing after ${maxResumes} resumptions (${networkReason(error)})`);
          }
          resumes++;
          await sleep(delay * 2 ** (failures - 1));
        } finally {
          clearTimeout(timer);
        }
      }
    }
    try {
      await options.store.put(body(), { expectedDigest: blob.digest, expectedSize: blob.size, maxSize: blob.size, lease: options.lease });
      return { bytes: network, resumes };
    } catch (error) {
      if (error instanceof RestartDownload && restart < 2) continue;
      if (error instanceof RestartDownload) {
        throw new RegistryClientError('REGISTRY_PROTOCOL', `${where}: blob ${blob.digest} cannot be resumed (the registry ignores Range) and keeps failing`);
      }
      if (error instanceof LayerError && (error.code === 'DIGEST_MISMATCH' || error.code === 'SIZE_MISMATCH')) {
        throw new RegistryClientError(
          error.code,
          `${where} sent blob ${blob.digest} with bytes that are not it (${error.message}): refused, nothing of it was stored`,
          undefined,
          { digest: blob.digest, registry: client.registry, repository },
        );
      }
      throw error;
    }
  }
}

/** Dropped connections, resets and stalls are resumed; answers (errors from the registry) are not. */
function isTransient(error: unknown, idle: AbortSignal): boolean {
  if (idle.aborted) return true;
  if (error instanceof RegistryClientError) return error.code === 'REGISTRY_UNREACHABLE';
  if ((error as { transient?: boolean })?.transient) return true;
  const name = (error as Error)?.name;
  return error instanceof TypeError || name === 'AbortError' || name === 'SocketError' || /terminated|ECONNRESET|socket|other side closed/i.test(String((error as Error)?.message));
}

function parseOrRefuse<T>(parse: () => T, where: string): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof LayerError) {
      throw new RegistryClientError(error.code === 'UNSUPPORTED_MEDIA_TYPE' ? 'UNSUPPORTED_MEDIA_TYPE' : 'MANIFEST_INVALID', `${where}: ${error.message}`);
    }
    throw error;
  }
}

function uniqueBlobs(descriptors: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return descriptors.filter((d) => (seen.has(d.digest) ? false : (seen.add(d.digest), true)));
}
