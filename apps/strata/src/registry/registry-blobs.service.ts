import { Inject, Injectable } from '@nestjs/common';
import { isDigest, type ContentStore } from '@strata/layers';
import { isRepositoryName, parseChunkRange, parseRangeHeader, RegistryError, uploadRangeHeader, type UploadSession } from '@strata/registry';
import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { CONTENT_STORE } from '../images/layer-tokens.js';
import { RegistryAccess, type RegistryCaller } from './registry-access.js';
import { RegistryUploads } from './registry-uploads.js';
import { RepositoryContent } from './repository-content.js';

const first = (value: unknown): string | undefined => (Array.isArray(value) ? first(value[0]) : typeof value === 'string' ? value : undefined);
const hasBody = (request: Request) => Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;

function requireDigest(value: string | undefined): string {
  // We store sha256 only: any other algorithm (or garbage) cannot name a blob here.
  if (!value || !isDigest(value)) throw new RegistryError('DIGEST_INVALID', `not a sha256 digest: ${JSON.stringify(value ?? '')}`);
  return value;
}

/**
 * Blobs: reads (with Range), and uploads — monolithic (POST ?digest=), chunked (POST, PATCH…, PUT
 * ?digest=) and cross-repository mounts. A blob reaches the content store only through `put` with its
 * expected digest, so it is visible only once complete and verified.
 */
@Injectable()
export class RegistryBlobs {
  constructor(
    @Inject(CONTENT_STORE) private readonly content: ContentStore,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly access: RegistryAccess,
    private readonly uploads: RegistryUploads,
    private readonly repositoryContent: RepositoryContent,
  ) {}

  async get(caller: RegistryCaller, name: string, digestParam: string, request: Request, response: Response): Promise<void> {
    await this.access.requireRead(caller, name);
    const digest = requireDigest(digestParam);
    const info = await this.content.info(digest);
    // Node administrators read any blob of the node; everyone else only what this repository holds.
    if (!info || (!this.access.isAdmin(caller) && !(await this.repositoryContent.holds(name, digest)))) {
      throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in ${name}`, { digest });
    }
    response.setHeader('Docker-Content-Digest', digest);
    response.setHeader('Accept-Ranges', 'bytes');
    response.setHeader('Content-Type', 'application/octet-stream');
    response.setHeader('ETag', `"${digest}"`);
    const range = parseRangeHeader(request.headers.range, info.size);
    if (range === 'unsatisfiable') {
      response.setHeader('Content-Range', `bytes */${info.size}`);
      throw new RegistryError('RANGE_INVALID', `range ${request.headers.range} is outside the blob (${info.size} bytes)`, { size: info.size });
    }
    if (range) {
      response.status(206).setHeader('Content-Range', `bytes ${range.start}-${range.end}/${info.size}`);
      response.setHeader('Content-Length', String(range.end - range.start + 1));
    } else {
      response.status(200).setHeader('Content-Length', String(info.size));
    }
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    await pipeline(this.content.read(digest, range ?? undefined), response);
  }

  /** POST /v2/<name>/blobs/uploads/: a mount, a monolithic upload, or the start of a chunked one. */
  async startUpload(caller: RegistryCaller, name: string, request: Request, response: Response): Promise<void> {
    await this.access.requirePush(caller, name);
    const mount = first(request.query.mount);
    const from = first(request.query.from);
    if (mount !== undefined && isDigest(mount) && (await this.content.has(mount)) && (await this.mayMount(caller, mount, from))) {
      // The store is shared by every repository on the node: a mount is a check and a link, not a copy.
      request.resume();
      await this.repositoryContent.links.link(name, mount);
      this.created(response, name, mount);
      return;
    }
    const digest = first(request.query.digest);
    if (digest !== undefined) {
      await this.content.put(request, { expectedDigest: requireDigest(digest), maxSize: this.config.maxLayerBytes });
      await this.repositoryContent.links.link(name, digest);
      this.created(response, name, digest);
      return;
    }
    // The spec allows a body only with ?digest=; anything sent here is dropped.
    request.resume();
    const session = await this.uploads.sessions.create(name);
    this.inProgress(response.status(202), name, session);
  }

  async patchUpload(caller: RegistryCaller, name: string, uuid: string, request: Request, response: Response): Promise<void> {
    await this.access.requirePush(caller, name);
    const session = await this.append(name, uuid, request, response);
    this.inProgress(response.status(202), name, session);
  }

  /** PUT …/uploads/<uuid>?digest=: the last chunk (optional), then the whole blob is verified and stored. */
  async completeUpload(caller: RegistryCaller, name: string, uuid: string, request: Request, response: Response): Promise<void> {
    await this.access.requirePush(caller, name);
    const digest = first(request.query.digest);
    if (digest === undefined || !isDigest(digest)) {
      request.resume();
      throw new RegistryError('DIGEST_INVALID', `complete the upload with ?digest=sha256:<hex> (got ${JSON.stringify(digest ?? '')})`);
    }
    if (hasBody(request)) await this.append(name, uuid, request, response);
    else request.resume();
    // The session goes away whatever happens: a blob that failed its check must be uploaded again.
    await this.uploads.sessions.finish(name, uuid, (session) =>
      // Moved into the store, not copied: the upload's bytes are written once.
      this.content.putFile(session.dataPath, { expectedDigest: digest, maxSize: this.config.maxLayerBytes }),
    );
    await this.repositoryContent.links.link(name, digest);
    this.created(response, name, digest);
  }

  async uploadStatus(caller: RegistryCaller, name: string, uuid: string, response: Response): Promise<void> {
    await this.access.requirePush(caller, name);
    this.inProgress(response.status(204), name, await this.uploads.sessions.get(name, uuid));
  }

  async cancelUpload(caller: RegistryCaller, name: string, uuid: string, response: Response): Promise<void> {
    await this.access.requirePush(caller, name);
    await this.uploads.sessions.remove(name, uuid);
    response.status(204).end();
  }

  /**
   * DELETE /v2/<name>/blobs/<digest>: the blob leaves this repository (its link goes). The bytes stay
   * in the node's shared store until `system prune` finds nothing uses them; a blob an image tagged
   * here still uses is refused (delete the manifest first), as the distribution registry would have
   * the manifest answer with a blob that is gone.
   */
  async remove(caller: RegistryCaller, name: string, digestParam: string, response: Response): Promise<void> {
    await this.access.requireDelete(caller, name);
    const digest = requireDigest(digestParam);
    if (await this.repositoryContent.tagged(name, digest)) {
      throw new RegistryError('DENIED', `blob ${digest} is used by an image tagged in ${name}: delete that manifest first`, { digest }, 409);
    }
    if (!(await this.repositoryContent.links.unlink(name, digest))) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in ${name}`, { digest });
    response.status(202).setHeader('Content-Length', '0');
    response.setHeader('Docker-Content-Digest', digest);
    response.end();
  }

  /** A mount needs pull on the source repository, and the blob must be in it (administrators: anywhere). */
  private async mayMount(caller: RegistryCaller, digest: string, from: string | undefined): Promise<boolean> {
    if (this.access.isAdmin(caller)) return true;
    if (from === undefined || !isRepositoryName(from)) return false;
    if (!(await this.access.allowed(caller, from)).has('pull')) return false;
    return this.repositoryContent.holds(from, digest);
  }

  private async append(name: string, uuid: string, request: Request, response: Response): Promise<UploadSession> {
    const range = parseChunkRange(request.headers['content-range']);
    if (range === 'invalid') {
      request.resume();
      throw new RegistryError('BLOB_UPLOAD_INVALID', `Content-Range must be "<start>-<end>", got ${request.headers['content-range']}`);
    }
    try {
      return await this.uploads.sessions.append(name, uuid, request, { expectedStart: range?.start, maxBytes: this.config.maxLayerBytes });
    } catch (error) {
      if (error instanceof RegistryError && error.code === 'RANGE_INVALID') {
        // Out of order: say where the upload stands, so the client resumes from there.
        const offset = (error.detail as { offset: number }).offset;
        response.setHeader('Range', uploadRangeHeader(offset));
        response.setHeader('Location', uploadLocation(name, uuid));
        response.setHeader('Docker-Upload-UUID', uuid);
      }
      throw error;
    }
  }

  private inProgress(response: Response, name: string, session: UploadSession): void {
    response.setHeader('Location', uploadLocation(name, session.uuid));
    response.setHeader('Range', uploadRangeHeader(session.offset));
    response.setHeader('Docker-Upload-UUID', session.uuid);
    response.setHeader('Content-Length', '0');
    response.end();
  }

  private created(response: Response, name: string, digest: string): void {
    response.status(201);
    response.setHeader('Location', `/v2/${name}/blobs/${digest}`);
    response.setHeader('Docker-Content-Digest', digest);
    response.setHeader('Content-Length', '0');
    response.end();
  }
}

const uploadLocation = (name: string, uuid: string) => `/v2/${name}/blobs/uploads/${uuid}`;
