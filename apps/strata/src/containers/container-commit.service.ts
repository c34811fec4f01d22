import { Inject, Injectable } from '@nestjs/common';
import type { CommandReply, CommitReply, CommitRequest } from '@strata/api';
import { assertTransition, invalid, parseRepoTag, type CommandMeta } from '@strata/domain';
import {
  buildManifest,
  ContentLeases,
  MediaTypes,
  parseImageConfig,
  parseManifest,
  resolveImage,
  serializeImageConfig,
  withLayer,
  writeLayer,
  type ContentStore,
  type OpenedSnapshotter,
} from '@strata/layers';
import type { Runtime } from '@strata/runtime';
import { CommandSteps } from '../commands/command-steps.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { imageRecord } from '../images/image-record.js';
import { CONTENT_STORE, SNAPSHOTTER } from '../images/layer-tokens.js';
import { ReadModels } from '../projections/read-models.service.js';
import { applyConfigChanges } from './config-changes.js';
import { ContainerFiles } from './container-files.js';
import { ContainerResolver } from './container-resolver.js';
import { snapshotKeyOf } from './container-rootfs.js';
import { ContainersService } from './containers.service.js';
import { RUNTIME } from './runtime-token.js';

/**
 * `docker commit`: the writable layer becomes one more OCI layer on the container's image (whiteouts
 * for deletions), a new image whose parent is the container's, tagged if asked. The container goes on
 * running on its original image. Steps across the container, image and repository streams carry ids
 * derived from the request's, so a repeated request finishes what is missing and nothing twice.
 */
@Injectable()
export class ContainerCommitService {
  constructor(
    private readonly containers: ContainersService,
    private readonly resolver: ContainerResolver,
    private readonly files: ContainerFiles,
    private readonly steps: CommandSteps,
    private readonly reads: ReadModels,
    private readonly leases: ContentLeases,
    @Inject(SNAPSHOTTER) private readonly snapshots: OpenedSnapshotter,
    @Inject(CONTENT_STORE) private readonly content: ContentStore,
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  async commit(ref: string, request: CommitRequest, meta: CommandMeta): Promise<CommitReply> {
    const c = await this.containers.owned(ref);
    const { state } = await this.resolver.state(c.id);
    assertTransition(state, 'commit', ref);
    const target = request.tag === undefined ? undefined : parseRepoTag(request.tag);
    if (request.tag?.includes('@')) throw invalid('INVALID_TAG', `tag the image by name, not digest: "${request.tag}"`);
    const pause = request.pause !== false && state.status === 'running';
    const commands: CommandReply[] = [];
    const lease = this.leases.acquire();
    try {
      if (pause) await this.runtime.pause(c.id);
      let layer: { digest: string; size: number };
      try {
        // What the process changed so far is part of the container's history before it becomes an image.
        const unrecorded = await this.files.unrecorded(c.id);
        if (unrecorded.length > 0) commands.push(await this.steps.run(meta, 'files', 'RecordFilesChanged', { id: c.id, source: 'process', changes: unrecorded }));
        const changes = await this.files.diff(c.id);
        const { dir } = await this.snapshots.snapshotter.writable(snapshotKeyOf(c.id));
        layer = await this.content.put(writeLayer(dir, changes), { lease });
      } finally {
        if (pause) await this.runtime.resume(c.id);
      }
      const parentManifest = parseManifest(await this.content.readBytes(c.image.manifestDigest));
      const parentConfig = parseImageConfig(await this.content.readBytes(parentManifest.config.digest));
      const command = [...(c.config.entrypoint ?? []), ...(c.config.cmd ?? [])].join(' ');
      const config = serializeImageConfig(
        withLayer(
          parentConfig,
          layer.digest, // an uncompressed layer's diffID is its digest
          { created: meta.occurredAt, created_by: command, author: request.author, comment: request.message },
          applyConfigChanges(parentConfig.config ?? {}, request.changes ?? []),
        ),
      );
      await this.content.putBytes(config.bytes, { expectedDigest: config.descriptor.digest, lease });
      const manifest = buildManifest(config.descriptor, [...parentManifest.layers, { mediaType: MediaTypes.ociLayer, digest: layer.digest, size: layer.size }]);
      await this.content.putBytes(manifest.bytes, { expectedDigest: manifest.descriptor.digest, lease });
      const image = await resolveImage(this.content, manifest.descriptor.digest, { maxUncompressedBytes: this.config.maxLayerBytes });
      const record = imageRecord(image, 'commit', { parent: c.image.manifestDigest, source: c.name });
      commands.push(await this.steps.run(meta, 'image', 'CreateImage', { image: record }));
      if (target) commands.push(await this.steps.run(meta, 'tag', 'TagImage', { ...target, digest: image.manifestDigest }));
      commands.push(
        await this.steps.run(meta, 'record', 'RecordCommit', {
          id: c.id, commitId: meta.commandId, manifestDigest: image.manifestDigest, imageId: image.configDigest, layerDigest: layer.digest,
          tag: target ? `${target.name}:${target.tag}` : null,
        }),
      );
      const position = Math.max(...commands.map((r) => r.position));
      const { value } = await this.reads.read({ minPosition: String(position) }, (m) => m.getImage(image.manifestDigest));
      return { image: value!, commands, position };
    } finally {
      lease.release();
    }
  }
}
