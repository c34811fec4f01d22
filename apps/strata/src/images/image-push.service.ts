import { Inject, Injectable, Logger } from '@nestjs/common';
import type { PushImageReply, PushImageRequest, TransferProgress } from '@strata/api';
import { ContentLeases, type ContentStore } from '@strata/layers';
import { formatRemoteReference, parseRemoteReference, pushImage, RegistryClient, type RegistryCredentials } from '@strata/registry';
import { ApiError } from '../http/api-error.js';
import { STRATA_VERSION } from '../version.js';
import { BlobSources } from './blob-sources.js';
import { ImageResolver } from './image-resolver.js';
import { CONTENT_STORE } from './layer-tokens.js';
import { asApiError } from './registry-auth.js';
import { throttledBlobProgress } from './transfer-progress.js';

/**
 * `docker push`: the node sends an image of its content store to a remote registry, the manifest
 * bytes as stored (so the remote digest is this node's digest). Pushing out changes nothing here, so
 * it records no event; the remote registry is where that push is (or is not) audited.
 */
@Injectable()
export class ImagePushService {
  private readonly logger = new Logger('push');

  constructor(
    @Inject(CONTENT_STORE) private readonly content: ContentStore,
    private readonly leases: ContentLeases,
    private readonly resolver: ImageResolver,
    private readonly sources: BlobSources,
  ) {}

  async push(request: PushImageRequest, credentialsFor: (registry: string) => RegistryCredentials | null, emit: (line: TransferProgress) => void): Promise<PushImageReply> {
    try {
      return await this.run(request, credentialsFor, emit);
    } catch (error) {
      throw asApiError(error);
    }
  }

  private async run(request: PushImageRequest, credentialsFor: (registry: string) => RegistryCredentials | null, emit: (line: TransferProgress) => void): Promise<PushImageReply> {
    if (!request || typeof request.image !== 'string' || typeof request.remote !== 'string') {
      throw new ApiError(400, 'VALIDATION_FAILED', 'image and remote are required: {"image": "repo:tag", "remote": "registry/name:tag"}');
    }
    const ref = parseRemoteReference(request.remote);
    const image = await this.resolver.resolve(request.image);
    if (ref.digest && ref.digest !== image.manifestDigest) {
      throw new ApiError(400, 'DIGEST_MISMATCH', `${request.image} is ${image.manifestDigest}, not ${ref.digest}: push to a tag, or to the image's own digest`);
    }
    const chunkSize = request.chunkSize ?? 16 * 1024 * 1024;
    if (!Number.isSafeInteger(chunkSize) || chunkSize < 64 * 1024 || chunkSize > 64 * 1024 * 1024) {
      throw new ApiError(400, 'VALIDATION_FAILED', 'chunkSize must be a byte count from 65536 to 67108864');
    }
    const remote = formatRemoteReference(ref);
    const client = new RegistryClient({ registry: ref.registry, insecure: request.insecure === true, credentials: credentialsFor(ref.registry), userAgent: `strata/${STRATA_VERSION}` });
    // The image may be removed while it is being pushed: its blobs stay until the push is over.
    const lease = this.leases.acquire([image.manifestDigest, image.imageId, ...image.layers.map((l) => l.digest)]);
    try {
      const pushed = await pushImage(client, ref.repository, ref.digest ?? ref.tag!, image.manifestDigest, {
        store: this.content,
        chunkSize,
        mountSource: (digest) => this.sources.sourceOf(ref.registry, digest),
        onPlan: (plan) =>
          emit({ kind: 'plan', manifestDigest: plan.manifestDigest, indexDigest: null, platform: null, blobs: plan.blobs.map((b) => ({ digest: b.digest, size: b.size, mediaType: b.mediaType })) }),
        onProgress: throttledBlobProgress(emit),
      });
      this.sources.remember(ref.registry, ref.repository, pushed.blobs.map((b) => b.digest));
      this.logger.log({ msg: 'pushed', remote, manifestDigest: pushed.manifestDigest, uploaded: pushed.uploaded, mounted: pushed.mounted, existing: pushed.existing });
      return {
        remote,
        manifestDigest: pushed.manifestDigest,
        blobs: { uploaded: pushed.uploaded, existing: pushed.existing, mounted: pushed.mounted, bytes: pushed.uploadedBytes },
      };
    } finally {
      lease.release();
    }
  }

  /** `strata login`: the registry accepts these credentials (or needs none). */
  async login(registry: string, insecure: boolean, credentials: RegistryCredentials | null): Promise<void> {
    try {
      const ref = parseRemoteReference(`${registry}/x`);
      if (ref.registry !== registry.toLowerCase()) throw new ApiError(400, 'INVALID_REFERENCE', `"${registry}" is not a registry host[:port]`);
      await new RegistryClient({ registry: ref.registry, insecure, credentials, userAgent: `strata/${STRATA_VERSION}` }).ping();
    } catch (error) {
      throw asApiError(error);
    }
  }
}
