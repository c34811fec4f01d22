import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import type { CommandReply, CommitReply, CommitRequest } from '@strata/api';
import { assertTransition, containerStreamId, invalid, parseRepoTag, type CommandMeta, type CommitRequestData, type ContainerEvent } from '@strata/domain';
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
import { CommandSteps, lastPosition } from '../commands/command-steps.js';
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
export class ContainerCommitService implements OnApplicationBootstrap {
  private readonly logger = new Logger('commit');
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
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  /** `options.createdBy`: the history's created_by (a build step's instruction), instead of the container's command. */
  async commit(ref: string, request: CommitRequest, meta: CommandMeta, options: { createdBy?: string } = {}): Promise<CommitReply> {
    const c = await this.containers.owned(ref);
    const { state } = await this.resolver.state(c.id);
    assertTransition(state, 'commit', ref);
    if (request.tag?.includes('@')) throw invalid('INVALID_TAG', `tag the image by name, not digest: "${request.tag}"`);
    const tag = request.tag === undefined ? null : formatTarget(parseRepoTag(request.tag));
    // Check the config changes before touching the container: a typo must not pause it.
    applyConfigChanges((await this.parentConfig(c.image.manifestDigest)).config ?? {}, request.changes ?? []);
    const pause = request.pause !== false && state.status === 'running';
    const lease = this.leases.acquire();
    try {
      if (pause) await this.runtime.pause(c.id);
      let layer: { digest: string; size: number };
      try {
        // What the process changed so far is part of the container's history before it becomes an image.
        const unrecorded = await this.files.unrecorded(c.id);
        if (unrecorded.length > 0) await this.steps.run(meta, 'files', 'RecordFilesChanged', { id: c.id, source: 'process', changes: unrecorded });
        const changes = await this.files.diff(c.id);
        const { dir } = await this.snapshots.snapshotter.writable(snapshotKeyOf(c.id));
        layer = await this.content.put(writeLayer(dir, changes), { lease });
      } finally {
        if (pause) await this.runtime.resume(c.id);
      }
      const data: CommitRequestData = {
        id: c.id,
        commitId: meta.commandId,
        layerDigest: layer.digest,
        layerSize: layer.size,
        tag,
        author: request.author ?? null,
        message: request.message ?? null,
        changes: request.changes ?? [],
        createdBy: options.createdBy ?? [...(c.config.entrypoint ?? []), ...(c.config.cmd ?? [])].join(' '),
        created: meta.occurredAt,
      };
      await this.steps.run(meta, 'request', 'RequestCommit', data);
      if (process.env.STRATA_FAULT === 'commit:after-request') process.kill(process.pid, 'SIGKILL'); // crash tests only
      return await this.finish(data, c.image.manifestDigest, c.name, meta);
    } finally {
      lease.release();
    }
  }

  /**
   * The rest of a requested commit: the image, its tag, the record on the container. Deterministic in
   * the request (same config bytes, same manifest digest, step ids from the commitId), so finishing it
   * again after a crash makes nothing twice.
   */
  async finish(data: CommitRequestData, parentDigest: string, containerName: string, meta: CommandMeta): Promise<CommitReply> {
    const parentManifest = parseManifest(await this.content.readBytes(parentDigest));
    const parentConfig = await this.parentConfig(parentDigest);
    const config = serializeImageConfig(
      withLayer(
        parentConfig,
        data.layerDigest, // an uncompressed layer's diffID is its digest
        { created: data.created, created_by: data.createdBy, author: data.author ?? undefined, comment: data.message ?? undefined },
        applyConfigChanges(parentConfig.config ?? {}, data.changes),
      ),
    );
    await this.content.putBytes(config.bytes, { expectedDigest: config.descriptor.digest });
    const manifest = buildManifest(config.descriptor, [...parentManifest.layers, { mediaType: MediaTypes.ociLayer, digest: data.layerDigest, size: data.layerSize }]);
    await this.content.putBytes(manifest.bytes, { expectedDigest: manifest.descriptor.digest });
    const image = await resolveImage(this.content, manifest.descriptor.digest, { maxUncompressedBytes: this.config.maxLayerBytes });
    const commands: CommandReply[] = [];
    commands.push(await this.steps.run(meta, 'image', 'CreateImage', { image: imageRecord(image, 'commit', { parent: parentDigest, source: containerName }) }));
    if (data.tag) commands.push(await this.steps.run(meta, 'tag', 'TagImage', { ...parseRepoTag(data.tag), digest: image.manifestDigest }));
    commands.push(
      await this.steps.run(meta, 'record', 'RecordCommit', {
        id: data.id, commitId: data.commitId, manifestDigest: image.manifestDigest, imageId: image.configDigest, layerDigest: data.layerDigest, tag: data.tag,
      }),
    );
    const position = lastPosition(commands);
    const { value } = await this.reads.read({ minPosition: String(position) }, (m) => m.getImage(image.manifestDigest));
    return { image: value!, commands, position };
  }

  /** A restarted node finishes the commits a crash cut short (requested, not recorded). */
  async onApplicationBootstrap(): Promise<void> {
    await this.reads.catchUpToHead();
    for (const c of await this.reads.engine.listContainers(true)) {
      if (c.nodeId !== this.config.nodeId) continue;
      const { state } = await this.resolver.state(c.id);
      if (state.pendingCommits.length === 0) continue;
      const events = (await this.store.readStream(containerStreamId(c.id))) as unknown as Array<ContainerEvent & { occurredAt: string; actor: string }>;
      for (const commitId of state.pendingCommits) {
        const requested = events.find((e) => e.type === 'ContainerCommitRequested' && e.data.commitId === commitId);
        if (!requested || requested.type !== 'ContainerCommitRequested') continue;
        const meta: CommandMeta = {
          commandId: commitId, actor: requested.actor, correlationId: commitId, causationId: null,
          occurredAt: new Date().toISOString(), nodeId: this.config.nodeId,
        };
        try {
          await this.finish(requested.data, c.image.manifestDigest, c.name, meta);
          this.logger.log({ msg: 'finished a commit a crash had cut short', container: c.id, commitId });
        } catch (error) {
          this.logger.error({ msg: 'could not finish an interrupted commit', container: c.id, commitId, error: String(error) });
        }
      }
    }
  }

  private async parentConfig(manifestDigest: string) {
    const manifest = parseManifest(await this.content.readBytes(manifestDigest));
    return parseImageConfig(await this.content.readBytes(manifest.config.digest));
  }
}

const formatTarget = (t: { name: string; tag: string }) => `${t.name}:${t.tag}`;
