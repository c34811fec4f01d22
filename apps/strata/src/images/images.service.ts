import { Inject, Injectable, Logger } from '@nestjs/common';
import type { CommandReply, FileEntryView, ImageView, ImportImageReply, LoadImageReply, PruneReply, RemoveImageReply } from '@strata/api';
import { conflict, invalid, parseRepoTag, type CommandMeta, type ImageOrigin } from '@strata/domain';
import {
  buildManifest,
  ContentLeases,
  loadArchive,
  pruneContent,
  serializeImageConfig,
  newImageConfig,
  UnionView,
  writeOciLayout,
  type ContentLease,
  type ContentStore,
  type LayoutImage,
  type OpenedSnapshotter,
  type ResolvedImage,
} from '@strata/layers';
import type { Readable, Writable } from 'node:stream';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ReadModels } from '../projections/read-models.service.js';
import { CommandSteps, lastPosition } from '../commands/command-steps.js';
import { imageRecord } from './image-record.js';
import { ImageResolver } from './image-resolver.js';
import { inspectLayer, layerChecks, putAndInspectLayer, resolveInspectedImage } from './inspect-layer.js';
import { CONTENT_STORE, SNAPSHOTTER } from './layer-tokens.js';
import { pruneSnapshots } from './snapshot-prune.js';

export interface ImportOptions {
  tag?: string;
  /** What was imported, for history ("rootfs.tar"); never a path on the client's machine. */
  source?: string;
  message?: string;
}

/**
 * Images: import, load, save, remove, read. Blobs go into the content store first (verified), the
 * event last: an image is visible only once ImageCreated is in the log, and a failure before that
 * leaves nothing but orphan blobs, which a lease protects while the work runs and prune removes after.
 */
@Injectable()
export class ImagesService {
  private readonly logger = new Logger('images');

  constructor(
    @Inject(CONTENT_STORE) private readonly content: ContentStore,
    private readonly leases: ContentLeases,
    private readonly commands: CommandSteps,
    private readonly reads: ReadModels,
    private readonly resolver: ImageResolver,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    @Inject(SNAPSHOTTER) private readonly snapshots: OpenedSnapshotter,
  ) {}

  /** `docker import`: one layer tar (plain or gzip) becomes an image with one layer. */
  async import(body: Readable, options: ImportOptions, meta: CommandMeta): Promise<ImportImageReply> {
    const target = options.tag === undefined ? undefined : parseTarget(options.tag);
    return this.withLease(async (lease) => {
      const { blob, layer } = await putAndInspectLayer(this.content, body, { lease, maxSize: this.config.maxLayerBytes }, layerChecks(this.config));
      const created = meta.occurredAt;
      const config = serializeImageConfig(
        newImageConfig({
          diffIds: [layer.diffId],
          created,
          history: [{ created, created_by: `strata import ${options.source ?? '-'}`, ...(options.message ? { comment: options.message } : {}) }],
        }),
      );
      await this.content.putBytes(config.bytes, { expectedDigest: config.descriptor.digest, lease });
      const manifest = buildManifest(config.descriptor, [{ mediaType: layer.mediaType, digest: blob.digest, size: blob.size }]);
      await this.content.putBytes(manifest.bytes, { expectedDigest: manifest.descriptor.digest, lease });
      // The upload was inspected as it came in: its diffID is known, nothing is read again.
      const image = await resolveInspectedImage(this.content, manifest.descriptor.digest, layerChecks(this.config), new Map([[blob.digest, layer.diffId]]));
      const replies = await this.record(meta, 'import', image, 'import', options.source ?? null, target);
      return { image: await this.view(image.manifestDigest, replies), commands: replies, position: lastPosition(replies) };
    });
  }

  /** `docker load`: an OCI image layout or `docker save` tarball; every image in it is recorded. */
  async load(body: Readable, options: { tag?: string }, meta: CommandMeta): Promise<LoadImageReply> {
    const target = options.tag === undefined ? undefined : parseTarget(options.tag);
    return this.withLease(async (lease) => {
      const loaded = await loadArchive(this.content, { stream: body }, { lease, maxUncompressedBytes: this.config.maxLayerBytes });
      if (target && loaded.length !== 1) {
        throw invalid('AMBIGUOUS_TAG', `the archive holds ${loaded.length} images; --tag names only one`, { images: loaded.length });
      }
      // The archive reader checked digests, sizes and diffIDs; the hardened tar reader checks each layer's
      // entries, before any image is recorded.
      const layers = new Set(loaded.flatMap((image) => image.layers.map((l) => l.digest)));
      for (const digest of layers) {
        await inspectLayer(this.content, digest, layerChecks(this.config));
      }
      const images: LoadImageReply['images'] = [];
      const commands: CommandReply[] = [];
      for (const [i, entry] of loaded.entries()) {
        // loadArchive verified every image whole (resolveImage): record it as it is.
        const tag = target ?? refTarget(entry.refName);
        const replies = await this.record(meta, `load-${i}`, entry, 'load', entry.refName ?? null, tag);
        commands.push(...replies);
        images.push({ image: await this.view(entry.manifestDigest, replies), refName: entry.refName ?? null, created: replies[0].events.length > 0 });
      }
      return { images, commands, position: lastPosition(commands) };
    });
  }

  /** `docker save`, step 1: which images, each named by the reference it was asked by ("repo:tag"). */
  async saveTargets(references: string[]): Promise<LayoutImage[]> {
    if (references.length === 0) throw invalid('VALIDATION_FAILED', 'name at least one image to save (?ref=repo:tag)');
    const images: LayoutImage[] = [];
    for (const reference of references) {
      const image = await this.resolver.resolve(reference);
      const named = reference.includes(':') || reference.includes('@') ? reference : `${reference}:latest`;
      images.push({ manifestDigest: image.manifestDigest, refName: named });
    }
    return images;
  }

  /** `docker save`, step 2: the images as one OCI image layout tar. */
  async writeLayout(images: LayoutImage[], out: Writable): Promise<void> {
    await writeOciLayout(this.content, images, { stream: out });
  }

  /** `docker rmi [-f]`: with force, the image's tags are removed first, then the image. */
  async remove(reference: string, force: boolean, meta: CommandMeta): Promise<RemoveImageReply> {
    const image = await this.resolver.resolve(reference);
    const commands: CommandReply[] = [];
    const untagged: string[] = [];
    // A container's root is made of the image's layers: refused before anything is untagged.
    const containers = await this.reads.engine.containersUsingImage(image.manifestDigest);
    if (containers.length > 0) {
      throw conflict('IMAGE_IN_USE_BY_CONTAINER', `image ${image.imageId} is used by container(s) ${containers.slice(0, 5).join(', ')}: remove them first`, {
        manifestDigest: image.manifestDigest,
        containers,
      });
    }
    if (force) {
      for (const ref of image.tags) {
        const { name, tag } = parseRepoTag(ref);
        commands.push(await this.commands.run(meta, `untag-${ref}`, 'UntagImage', { name, tag }));
        untagged.push(ref);
      }
      if (untagged.length > 0) await this.reads.catchUpToHead();
    }
    commands.push(await this.commands.run(meta, 'remove', 'RemoveImage', { image: image.manifestDigest, force, untagged }));
    return { manifestDigest: image.manifestDigest, imageId: image.imageId, untagged, commands, position: lastPosition(commands) };
  }

  /** The union view of the image's layers at `path`, read from the layer blobs without unpacking. */
  async files(reference: string, path: string, recursive: boolean): Promise<FileEntryView[]> {
    const view = this.unionOf(await this.resolver.resolve(reference));
    const entries = await view.list(path, { recursive });
    return entries.map((e) => ({ ...e, linkname: e.linkname ?? null, mtime: e.mtime ? new Date(e.mtime).toISOString() : null }));
  }

  async readFile(reference: string, path: string): Promise<Readable> {
    return this.unionOf(await this.resolver.resolve(reference)).readFile(path);
  }

  /** Removes blobs no live image needs and nothing is writing (grace period, leases). */
  async prune(dryRun: boolean): Promise<PruneReply> {
    await this.reads.catchUpToHead();
    const live = await this.reads.engine.liveImageBlobs();
    const result = await pruneContent(this.content, {
      isLive: (digest) => live.has(digest),
      olderThan: new Date(Date.now() - this.config.pruneGraceMs),
      leases: this.leases,
      dryRun,
    });
        const liveChains = new Set((await this.reads.engine.listImages()).flatMap((image) => image.layers.map((l) => l.chainId)));
    const removedSnapshots = await pruneSnapshots(this.snapshots.snapshotter, liveChains, dryRun);
    this.logger.log({ msg: dryRun ? 'prune (dry run)' : 'pruned', blobs: result.removed.length, bytes: result.freedBytes, snapshots: removedSnapshots });
    return { dryRun, removedBlobs: result.removed.length, freedBytes: result.freedBytes, removedSnapshots };
  }

  private unionOf(image: ImageView): UnionView {
    return new UnionView(image.layers.map((layer) => () => this.content.read(layer.digest)));
  }

  /** CreateImage, then TagImage when asked; both with ids derived from the request's. */
  private async record(
    meta: CommandMeta,
    step: string,
    image: ResolvedImage,
    origin: ImageOrigin,
    source: string | null,
    tag: { name: string; tag: string } | undefined,
  ): Promise<CommandReply[]> {
    const replies = [await this.commands.run(meta, `${step}-create`, 'CreateImage', { image: imageRecord(image, origin, { source }) })];
    if (tag) replies.push(await this.commands.run(meta, `${step}-tag`, 'TagImage', { ...tag, digest: image.manifestDigest }));
    return replies;
  }

  private async view(manifestDigest: string, replies: CommandReply[]): Promise<ImageView> {
    const position = lastPosition(replies);
    const { value } = await this.reads.read({ minPosition: String(position) }, (m) => m.getImage(manifestDigest));
    if (!value) throw new Error(`image ${manifestDigest} was recorded but is not in the read models`);
    return value;
  }

  private async withLease<T>(work: (lease: ContentLease) => Promise<T>): Promise<T> {
    const lease = this.leases.acquire();
    try {
      return await work(lease);
    } finally {
      lease.release();
    }
  }
}

/** Docker's familiar form: `docker.io/library/busybox` is `busybox`, `docker.io/demo/app` is `demo/app`. */
export function familiarName(reference: string): string {
  return reference.replace(/^(?:index\.)?docker\.io\/(?:library\/(?=[^/]+$))?/, '');
}


function parseTarget(value: string): { name: string; tag: string } {
  if (value.includes('@')) throw invalid('INVALID_TAG', `tag the image by name, not digest: "${value}"`);
  return parseRepoTag(value);
}

/** An archive's ref name is a tag for us only when it is a full reference ("repo:tag"), not a bare "latest". */
function refTarget(refName: string | undefined): { name: string; tag: string } | undefined {
  if (!refName || !refName.includes(':') || refName.includes('@')) return undefined;
  const target = parseRepoTag(familiarName(refName));
  return /^[a-z0-9]/.test(target.name) ? target : undefined;
}
