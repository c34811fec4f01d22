import { mapLimit, parseManifest, MediaTypes, type ContentStore, type Descriptor } from '@strata/layers';
import { RegistryClientError } from './errors.js';
import type { BlobProgress } from './progress.js';
import type { RegistryClient } from './registry-client.js';

export interface PushImageOptions {
  store: ContentStore;
  /** A repository on the same registry that already holds a blob: it is mounted from there, not uploaded. */
  mountSource?: (digest: string) => string | undefined;
  onPlan?: (plan: { manifestDigest: string; blobs: Descriptor[] }) => void;
  onProgress?: (progress: BlobProgress) => void;
  /** Bytes per PATCH (default 16 MiB); a blob that fits is still one POST, one PATCH, one PUT. */
  chunkSize?: number;
  concurrency?: number;
}

export interface PushedImage {
  manifestDigest: string;
  blobs: Descriptor[];
  uploaded: number;
  existing: number;
  mounted: number;
  uploadedBytes: number;
}

/**
 * Pushes one image from the content store to `repository:tag`: each blob the registry does not have
 * (HEAD) is mounted from a repository of the same registry known to hold it, or uploaded in chunks
 * (POST, PATCH with Content-Range, PUT ?digest=, the registry verifying the digest), then the manifest
 * bytes exactly as stored, so the remote manifest digest is ours.
 */
export async function pushImage(client: RegistryClient, repository: string, tag: string, manifestDigest: string, options: PushImageOptions): Promise<PushedImage> {
  const bytes = await options.store.readBytes(manifestDigest);
  const manifest = parseManifest(bytes);
  const mediaType = manifest.mediaType ?? MediaTypes.ociManifest;
  const seen = new Set<string>();
  const blobs = [manifest.config, ...manifest.layers].filter((d) => (seen.has(d.digest) ? false : (seen.add(d.digest), true)));
  options.onPlan?.({ manifestDigest, blobs });
  const chunkSize = options.chunkSize ?? 16 * 1024 * 1024;
  let uploaded = 0;
  let existing = 0;
  let mounted = 0;
  let uploadedBytes = 0;
  await mapLimit(blobs, options.concurrency ?? 3, async (blob) => {
    const report = (status: BlobProgress['status'], sent: number) =>
      options.onProgress?.({ digest: blob.digest, mediaType: blob.mediaType, size: blob.size, bytes: sent, status });
    if ((await client.blobSize(repository, blob.digest)) === blob.size) {
      existing++;
      return report('exists', blob.size);
    }
    const from = options.mountSource?.(blob.digest);
    const started = await client.startUpload(repository, from && from !== repository ? { digest: blob.digest, from } : undefined);
    if (started.mounted) {
      mounted++;
      return report('mounted', blob.size);
    }
    let location = started.location;
    let sent = 0;
    // Chunks are read from the store one at a time: a PATCH body must be re-sendable after a 401.
    while (sent < blob.size) {
      const end = Math.min(sent + chunkSize, blob.size) - 1;
      const chunk = await readRange(options.store, blob.digest, sent, end);
      if (chunk.length !== end - sent + 1) throw new RegistryClientError('SIZE_MISMATCH', `local blob ${blob.digest} is shorter than its descriptor says`);
      location = await client.uploadChunk(repository, location, chunk, sent);
      sent += chunk.length;
      uploadedBytes += chunk.length;
      report('uploading', sent);
    }
    await client.completeUpload(repository, location, blob.digest);
    uploaded++;
    report('done', blob.size);
  });
  const pushed = await client.putManifest(repository, tag, bytes, mediaType);
  if (pushed !== manifestDigest) throw new RegistryClientError('DIGEST_MISMATCH', `the manifest pushed hashes to ${pushed}, not ${manifestDigest}`);
  return { manifestDigest, blobs, uploaded, existing, mounted, uploadedBytes };
}

async function readRange(store: ContentStore, digest: string, start: number, end: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of store.read(digest, { start, end })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
