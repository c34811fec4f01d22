import { Inject, Injectable, Logger } from '@nestjs/common';
import type { CommandReply, PullImageReply, PullImageRequest, TransferProgress } from '@strata/api';
import { parseRepoTag, type CommandMeta } from '@strata/domain';
import { ContentLeases, hostPlatform, type ContentStore } from '@strata/layers';
import { formatRemoteReference, parsePlatform, parseRemoteReference, pullImage, RegistryClient, type RegistryCredentials, DOCKER_HUB } from '@strata/registry';
import { CommandSteps, lastPosition } from '../commands/command-steps.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ApiError } from '../http/api-error.js';
import { ReadModels } from '../projections/read-models.service.js';
import { STRATA_VERSION } from '../version.js';
import { BlobSources } from './blob-sources.js';
import { imageRecord } from './image-record.js';
import { layerChecks, resolveInspectedImage } from './inspect-layer.js';
import { CONTENT_STORE } from './layer-tokens.js';
import { asApiError } from './registry-auth.js';
import { throttledBlobProgress } from './transfer-progress.js';

/**
 * `docker pull`: the node fetches the image from a remote registry into its own content store
 * (verified blob by blob), then verifies the image whole as an import does (resolveImage: every
 * diffID; the hardened tar reader over every layer) and records CreateImage {origin: pull} and the
 * local tag. The credentials, if any, live only in this request.
 */
@Injectable()
export class ImagePullService {
  private readonly logger = new Logger('pull');

  constructor(
    @Inject(CONTENT_STORE) private readonly content: ContentStore,
    private readonly leases: ContentLeases,
    private readonly commands: CommandSteps,
    private readonly reads: ReadModels,
    private readonly sources: BlobSources,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  async pull(
    request: PullImageRequest,
    credentialsFor: (registry: string) => RegistryCredentials | null,
    meta: CommandMeta,
    emit: (line: TransferProgress) => void,
  ): Promise<PullImageReply> {
    try {
      return await this.run(request, credentialsFor, meta, emit);
    } catch (error) {
      throw asApiError(error);
    }
  }

  private async run(
    request: PullImageRequest,
    credentialsFor: (registry: string) => RegistryCredentials | null,
    meta: CommandMeta,
    emit: (line: TransferProgress) => void,
  ): Promise<PullImageReply> {
    if (!request || typeof request.remote !== 'string') throw new ApiError(400, 'VALIDATION_FAILED', 'remote is required: {"remote": "registry/name:tag"}');
    const ref = parseRemoteReference(request.remote);
    const remote = formatRemoteReference(ref);
    const target = localTarget(request.tag, ref);
    const platform = request.platform ? parsePlatform(request.platform) : hostPlatform();
    const client = new RegistryClient({
      registry: ref.registry,
      insecure: request.insecure === true,
      credentials: credentialsFor(ref.registry),
      userAgent: `strata/${STRATA_VERSION}`,
    });
    const lease = this.leases.acquire();
    try {
      const pulled = await pullImage(client, ref.repository, ref.digest ?? ref.tag!, {
        store: this.content,
        lease,
        platform,
        maxBlobBytes: this.config.maxLayerBytes,
        onPlan: (plan) =>
          emit({
            kind: 'plan',
            manifestDigest: plan.manifestDigest,
            indexDigest: plan.indexDigest,
            platform: plan.platform,
            blobs: plan.blobs.map((b) => ({ digest: b.digest, size: b.size, mediaType: b.mediaType })),
          }),
        onProgress: throttledBlobProgress(emit),
      });
      emit({ kind: 'verifying', manifestDigest: pulled.manifestDigest });
      // Exactly what an import checks before anything is recorded: the image whole, and every layer's entries.
      const image = await resolveInspectedImage(this.content, pulled.manifestDigest, layerChecks(this.config));
      this.sources.remember(ref.registry, ref.repository, pulled.blobs.map((b) => b.digest));
      const commands: CommandReply[] = [await this.commands.run(meta, 'pull-create', 'CreateImage', { image: imageRecord(image, 'pull', { source: remote }) })];
      if (target) commands.push(await this.commands.run(meta, 'pull-tag', 'TagImage', { ...target, digest: image.manifestDigest }));
      const position = lastPosition(commands);
      const { value } = await this.reads.read({ minPosition: String(position) }, (m) => m.getImage(image.manifestDigest));
      if (!value) throw new Error(`image ${image.manifestDigest} was recorded but is not in the read models`);
      this.logger.log({ msg: 'pulled', remote, manifestDigest: image.manifestDigest, downloaded: pulled.downloaded, existing: pulled.existing, bytes: pulled.downloadedBytes });
      return {
        remote,
        manifestDigest: image.manifestDigest,
        indexDigest: pulled.indexDigest,
        platform: pulled.platform,
        tag: target ? `${target.name}:${target.tag}` : null,
        image: value,
        blobs: { downloaded: pulled.downloaded, existing: pulled.existing, bytes: pulled.downloadedBytes, resumes: pulled.resumes },
        commands,
        position,
      };
    } finally {
      lease.release();
    }
  }
}

/**
 * The local tag: the one asked for, else the remote's repository and tag (without the registry: a
 * `host:port` is not part of a Strata repository name; Docker Hub's `library/` is dropped as Docker
 * does). A pull by digest is left untagged unless a tag is asked for.
 */
function localTarget(tag: string | undefined, ref: { registry: string; repository: string; tag?: string }): { name: string; tag: string } | undefined {
  if (tag !== undefined && tag !== '') {
    if (tag.includes('@')) throw new ApiError(400, 'INVALID_TAG', `tag the pulled image by name, not digest: "${tag}"`);
    return parseRepoTag(tag);
  }
  if (!ref.tag) return undefined;
  const name = ref.registry === DOCKER_HUB ? ref.repository.replace(/^library\/(?=[^/]+$)/, '') : ref.repository;
  return { name, tag: ref.tag };
}
