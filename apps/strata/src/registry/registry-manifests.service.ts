import { Inject, Injectable } from '@nestjs/common';
import type { CommandReply } from '@strata/api';
import type { ImageCreatedData } from '@strata/domain';
import {
  ContentLeases,
  hostPlatform,
  isIndexMediaType,
  isManifestMediaType,
  parseIndex,
  parseManifest,
  platformMatches,
  type ContentLease,
  type Descriptor,
  type ImageIndex,
  resolveImage,
  sha256Digest,
  type ContentStore,
  type ImageManifest,
} from '@strata/layers';
import { isDigestReference, isTag, RegistryError } from '@strata/registry';
import type { Request, Response } from 'express';
import type { AuthenticatedRequest } from '../auth/auth.guard.js';
import { commandMeta, commandMetaFrom } from '../commands/command-meta.js';
import { CommandSteps, lastPosition } from '../commands/command-steps.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { imageRecord } from '../images/image-record.js';
import { layerChecks, resolveInspectedImage } from '../images/inspect-layer.js';
import { CONTENT_STORE } from '../images/layer-tokens.js';
import { ReadModels } from '../projections/read-models.service.js';
import { RegistryAccess, type RegistryCaller } from './registry-access.js';
import { PullAudit } from './pull-audit.js';
import { RepositoryContent } from './repository-content.js';

/** Manifests are small JSON documents; the distribution registry caps them at 4 MiB too. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Manifests by tag or digest. A pushed manifest becomes an image the way an import does: its blobs are
 * already verified in the store, the manifest is checked whole (resolveImage: sizes, diffIDs) and every
 * layer goes through the hardened tar reader, then CreateImage (origin push) and, for a tag, TagImage —
 * the pusher is the actor of both. Nothing is recorded unless everything checked out.
 */
@Injectable()
export class RegistryManifests {
  constructor(
    @Inject(CONTENT_STORE) private readonly content: ContentStore,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly leases: ContentLeases,
    private readonly commands: CommandSteps,
    private readonly reads: ReadModels,
    private readonly access: RegistryAccess,
    private readonly repositoryContent: RepositoryContent,
    private readonly pulls: PullAudit,
  ) {}

  async get(caller: RegistryCaller, name: string, reference: string, request: Request, response: Response): Promise<void> {
    await this.access.requireRead(caller, name);
    await this.reads.catchUpToHead();
    const model = this.reads.engine;
    const admin = this.access.isAdmin(caller);
    const repository = await model.getRepository(name);
    if (!repository && !(admin && isDigestReference(reference))) {
      throw new RegistryError('NAME_UNKNOWN', `repository ${name} is not known to this registry`, { name });
    }
    let digest: string;
    if (isDigestReference(reference)) {
      digest = reference;
      // By digest, a repository serves what it holds (tagged, or pushed into it); administrators anything.
      if (!admin && !(await this.repositoryContent.holds(name, digest))) throw manifestUnknown(name, reference);
    } else if (isTag(reference)) {
      const tag = (await model.listTags(name)).find((t) => t.tag === reference);
      if (!tag) throw manifestUnknown(name, reference);
      digest = tag.digest;
    } else {
      throw new RegistryError('TAG_INVALID', `${JSON.stringify(reference)} is neither a tag nor a digest`);
    }
    const image = await model.getImage(digest);
    if (!image) throw manifestUnknown(name, reference);
    const bytes = await this.content.readBytes(digest, MAX_MANIFEST_BYTES);
    if (request.method === 'GET') {
      // A pull is a GET of the manifest (HEAD only asks whether it is there).
      if (repository?.visibility === 'private' && caller.principal) {
        const meta = commandMeta(caller.principal.name, (header) => request.header(header), this.config.nodeId);
        await this.pulls.recordPrivate(meta, name, digest, reference);
      } else if (repository?.visibility === 'public') {
        this.pulls.countPublic();
      }
    }
    response.status(200);
    response.setHeader('Content-Type', image.manifestMediaType);
    response.setHeader('Docker-Content-Digest', digest);
    response.setHeader('ETag', `"${digest}"`);
    response.setHeader('Content-Length', String(bytes.length));
    response.end(request.method === 'HEAD' ? undefined : bytes);
  }

  /**
   * DELETE by tag untags (push suffices, like moving a tag); by digest (needs delete, i.e. admin on
   * the repository) untags every tag of this repository pointing at it, then deletes the image unless
   * another repository still tags it or a container uses it. Each step is a command with the caller as
   * actor: ImageUntagged…, ImageDeleted.
   */
  async remove(caller: RegistryCaller, name: string, reference: string, request: Request, response: Response): Promise<void> {
    const byDigest = isDigestReference(reference);
    if (!byDigest && !isTag(reference)) throw new RegistryError('TAG_INVALID', `${JSON.stringify(reference)} is neither a tag nor a digest`);
    const principal = byDigest ? await this.access.requireDelete(caller, name) : await this.access.requirePush(caller, name);
    await this.reads.catchUpToHead();
    const model = this.reads.engine;
    if (!(await model.getRepository(name))) throw new RegistryError('NAME_UNKNOWN', `repository ${name} is not known to this registry`, { name });
    const meta = commandMeta(principal.name, (header) => request.header(header), this.config.nodeId);
    const tags = (await model.listTags(name)).filter((t) => (byDigest ? t.digest === reference : t.tag === reference));
    if (tags.length === 0 && !(byDigest && (await this.repositoryContent.links.has(name, reference)))) throw manifestUnknown(name, reference);
    const replies: CommandReply[] = [];
    for (const tag of tags) replies.push(await this.commands.run(meta, `delete-untag-${tag.tag}`, 'UntagImage', { name, tag: tag.tag }));
    if (byDigest) {
      await model.waitFor(lastPosition(replies), this.config.maxWaitMs);
      await this.repositoryContent.links.unlink(name, reference);
      const image = await model.getImage(reference);
      if (image && image.tags.length === 0 && (await model.containersUsingImage(reference)).length === 0) {
        const untagged = tags.map((t) => `${name}:${t.tag}`);
        replies.push(await this.commands.run(meta, 'delete-image', 'RemoveImage', { image: reference, untagged }));
      }
    }
    await model.waitFor(lastPosition(replies), this.config.maxWaitMs);
    response.status(202).setHeader('Content-Length', '0');
    response.end();
  }

  async put(caller: RegistryCaller, name: string, reference: string, request: Request, response: Response): Promise<void> {
    const principal = await this.access.requirePush(caller, name);
    const byDigest = isDigestReference(reference);
    if (!byDigest && !isTag(reference)) {
      request.resume();
      throw new RegistryError('TAG_INVALID', `invalid tag ${JSON.stringify(reference)}: up to 128 letters, digits, '_', '.' or '-'`);
    }
    const bytes = await readCapped(request, MAX_MANIFEST_BYTES);
    const digest = sha256Digest(bytes);
    if (byDigest && reference !== digest) {
      throw new RegistryError('DIGEST_INVALID', `the manifest's digest is ${digest}, not ${reference}`, { expected: reference, actual: digest });
    }
    const document = parseDocument(bytes, request.headers['content-type']);
    const source = byDigest ? `${name}@${digest}` : `${name}:${reference}`;
    let record: ImageCreatedData;
    let lease: ContentLease;
    if (document.kind === 'manifest') {
      const manifest = document.manifest;
      await this.requireBlobs(manifest, name, caller);
      lease = this.leases.acquire([manifest.config.digest, ...manifest.layers.map((l) => l.digest)]);
    } else {
      lease = this.leases.acquire(await this.requireIndexManifests(document.index, name, caller));
    }
    try {
      if (document.kind === 'manifest') {
        await this.content.putBytes(bytes, { expectedDigest: digest, lease });
        const image = await resolveInspectedImage(this.content, digest, layerChecks(this.config));
        record = imageRecord(image, 'push', { source });
      } else {
        // The platform manifests were each verified (and recorded) when they were pushed by digest.
        const platformDigest = choosePlatform(document.index.manifests).digest;
        const image = await resolveImage(this.content, platformDigest, { maxUncompressedBytes: this.config.maxLayerBytes });
        await this.content.putBytes(bytes, { expectedDigest: digest, lease });
        record = { ...imageRecord(image, 'push', { source, parent: platformDigest }), manifestDigest: digest, manifestMediaType: document.mediaType };
      }
      await this.repositoryContent.links.link(name, digest);
      (request as AuthenticatedRequest).principal = principal;
      const meta = commandMetaFrom(request, this.config.nodeId);
      const replies: CommandReply[] = [await this.commands.run(meta, 'push-create', 'CreateImage', { image: record })];
      if (!byDigest) replies.push(await this.commands.run(meta, 'push-tag', 'TagImage', { name, tag: reference, digest }));
      // Read-your-writes: a pull right after this answer must find the tag.
      await this.reads.engine.waitFor(lastPosition(replies), this.config.maxWaitMs);
    } finally {
      lease.release();
    }
    response.status(201);
    response.setHeader('Location', `/v2/${name}/manifests/${digest}`);
    response.setHeader('Docker-Content-Digest', digest);
    response.setHeader('Content-Length', '0');
    response.end();
  }

  /**
   * Every manifest an index names must be an image this repository holds (pushed by digest first, as
   * every client does): MANIFEST_BLOB_UNKNOWN names the first missing, as distribution answers. Nested
   * indexes and non-image entries are refused. Returns what the push must keep from being pruned.
   */
  private async requireIndexManifests(index: ImageIndex, name: string, caller: RegistryCaller): Promise<string[]> {
    if (index.manifests.length === 0) throw new RegistryError('MANIFEST_INVALID', 'the image index lists no manifests');
    const admin = this.access.isAdmin(caller);
    await this.reads.catchUpToHead();
    const model = this.reads.engine;
    const keep: string[] = [];
    for (const entry of index.manifests) {
      if (!isManifestMediaType(entry.mediaType)) {
        throw new RegistryError('UNSUPPORTED', `index entry ${entry.digest} is ${entry.mediaType}: only image manifests are accepted in an index`, {
          digest: entry.digest,
          mediaType: entry.mediaType,
        });
      }
      const info = await this.content.info(entry.digest);
      const image = info ? await model.getImage(entry.digest) : null;
      if (!info || !image || (!admin && !(await this.repositoryContent.holds(name, entry.digest)))) {
        throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `manifest ${entry.digest} is not in this repository: push it first`, { digest: entry.digest });
      }
      if (info.size !== entry.size) {
        throw new RegistryError('MANIFEST_INVALID', `manifest ${entry.digest} is ${info.size} bytes, the index says ${entry.size}`, { digest: entry.digest });
      }
      keep.push(entry.digest, image.imageId, ...image.layers.map((l) => l.digest));
    }
    return keep;
  }

  /** Every blob the manifest names must be here already: MANIFEST_BLOB_UNKNOWN names the first missing. */
  private async requireBlobs(manifest: ImageManifest, name: string, caller: RegistryCaller): Promise<void> {
    const admin = this.access.isAdmin(caller);
    for (const descriptor of [manifest.config, ...manifest.layers]) {
      const info = await this.content.info(descriptor.digest);
      // Only blobs this repository holds count (uploaded, mounted or tagged here): another repository's
      // blob, known only by its digest, must not become readable by being named in a manifest.
      if (!info || (!admin && !(await this.repositoryContent.holds(name, descriptor.digest)))) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `blob ${descriptor.digest} is not in this registry: push it first`, { digest: descriptor.digest });
      if (info.size !== descriptor.size) {
        throw new RegistryError('MANIFEST_INVALID', `blob ${descriptor.digest} is ${info.size} bytes, the manifest says ${descriptor.size}`, {
          digest: descriptor.digest,
        });
      }
    }
  }
}

const manifestUnknown = (name: string, reference: string) =>
  new RegistryError('MANIFEST_UNKNOWN', `manifest ${name}:${reference} is not known to this registry`, { name, reference });

type ManifestDocument = { kind: 'manifest'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex; mediaType: string };

/** The platform whose image an index's record describes: the node's own, else the first entry. */
function choosePlatform(entries: readonly Descriptor[]): Descriptor {
  const host = hostPlatform();
  return entries.find((e) => platformMatches(e.platform, host) && (e.platform?.variant ?? undefined) === (host.variant ?? undefined))
    ?? entries.find((e) => platformMatches(e.platform, host))
    ?? entries[0]!;
}

/** An image manifest or an image index (multi-platform), OCI or Docker; anything else is MANIFEST_INVALID. */
function parseDocument(bytes: Buffer, contentType: string | undefined): ManifestDocument {
  let mediaType: unknown;
  try {
    mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
  } catch (error) {
    throw new RegistryError('MANIFEST_INVALID', `manifest is not JSON: ${(error as Error).message}`);
  }
  const declared = typeof mediaType === 'string' ? mediaType : (contentType ?? '').split(';')[0]!.trim();
  if (isIndexMediaType(declared)) return { kind: 'index', index: parseIndex(bytes), mediaType: declared };
  return { kind: 'manifest', manifest: parseManifest(bytes) };
}

async function readCapped(request: Request, max: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  const tooBig = () => new RegistryError('SIZE_INVALID', `manifest is larger than ${max} bytes`, { limit: max }, 413);
  if (declared > max) {
    request.resume();
    throw tooBig();
  }
  // A chunked body over the cap is read to its end but not kept: stopping mid-body would cut the
  // connection before the client could read the error.
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= max) chunks.push(chunk);
  }
  if (size > max) throw tooBig();
  return Buffer.concat(chunks);
}
