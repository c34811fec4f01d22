import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FileEntryView, ImageHistoryReply, ImagesReply, ImageView, ImportImageReply, ImageFilesReply, LoadImageReply, RemoveImageReply } from '@strata/api';
import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { commandMetaFrom } from '../commands/command-meta.js';
import { resolveIn } from '../images/image-resolver.js';
import { ImagesService } from '../images/images.service.js';
import { ReadModels, type ReadOptions } from '../projections/read-models.service.js';
import { Inject } from '@nestjs/common';
import { ApiError } from './api-error.js';
import { parseFlag } from './query-flags.js';

/** Content types an archive upload may carry; JSON or form posts to these routes are mistakes. */
const ARCHIVE_TYPES = /^application\/(x-tar|tar|gzip|x-gzip|octet-stream|vnd\.oci\.image\.layer\.v1\.tar(\+gzip)?)\b/i;

function requireArchive(request: Request): void {
  const type = request.headers['content-type'] ?? '';
  if (!ARCHIVE_TYPES.test(type)) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `send the archive as application/x-tar or application/gzip (got ${type || 'no content type'})`);
  }
}

/**
 * Images: import/load (the body is the archive, streamed), save (the answer is an OCI layout tar),
 * remove, and reads — list, inspect, history, and the union view of the files. An image is named by any
 * Docker-style reference, URL-encoded in the path (`demo%2Fapp%3A1`).
 */
@Controller('images')
export class ImagesController {
  constructor(
    private readonly images: ImagesService,
    private readonly reads: ReadModels,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  @Post('import')
  @HttpCode(201)
  import(@Req() request: Request, @Query() q: { tag?: string; source?: string; message?: string }): Promise<ImportImageReply> {
    requireArchive(request);
    return this.images.import(request, { tag: q.tag, source: q.source, message: q.message }, commandMetaFrom(request, this.config.nodeId));
  }

  @Post('load')
  @HttpCode(201)
  load(@Req() request: Request, @Query() q: { tag?: string }): Promise<LoadImageReply> {
    requireArchive(request);
    return this.images.load(request, { tag: q.tag }, commandMetaFrom(request, this.config.nodeId));
  }

  @Get()
  async list(@Query() q: ReadOptions): Promise<ImagesReply> {
    const { value, position } = await this.reads.read(q, (m) => m.listImages());
    const unique = new Map<string, number>();
    for (const image of value) for (const layer of image.layers) unique.set(layer.digest, layer.size);
    return { items: value, position, totalSize: [...unique.values()].reduce((a, b) => a + b, 0), uniqueLayers: unique.size };
  }

  /** `?ref=a&ref=b`: an OCI image layout tar of those images, streamed. */
  @Get('save')
  async save(@Query('ref') ref: string | string[] | undefined, @Res() response: Response): Promise<void> {
    // Resolve everything before the first byte, so a bad reference is still a problem+json answer.
    const targets = await this.images.saveTargets(ref === undefined ? [] : Array.isArray(ref) ? ref : [ref]);
    response.status(200).type('application/x-tar').setHeader('Content-Disposition', 'attachment; filename="images.tar"');
    await this.images.writeLayout(targets, response);
  }

  @Get(':ref')
  async inspect(@Param('ref') reference: string, @Query() q: ReadOptions): Promise<ImageView> {
    return (await this.reads.read(q, (m) => resolveIn(m, reference))).value;
  }

  @Get(':ref/history')
  async history(@Param('ref') reference: string, @Query() q: ReadOptions): Promise<ImageHistoryReply> {
    const { value, position } = await this.reads.read(q, (m) => resolveIn(m, reference));
    return { items: value.history, position };
  }

  @Get(':ref/files')
  async files(@Param('ref') reference: string, @Query() q: { path?: string; recursive?: string }): Promise<ImageFilesReply> {
    const items: FileEntryView[] = await this.images.files(reference, q.path ?? '/', parseFlag(q.recursive, 'recursive'));
    return { items, position: this.reads.engine.position() };
  }

  @Get(':ref/content')
  async content(@Param('ref') reference: string, @Query('path') path: string | undefined, @Res() response: Response): Promise<void> {
    if (!path) throw new ApiError(400, 'VALIDATION_FAILED', 'path is required, e.g. ?path=/etc/motd');
    const file = await this.images.readFile(reference, path);
    response.status(200).type('application/octet-stream');
    await pipeline(file, response);
  }

  @Delete(':ref')
  @HttpCode(200)
  remove(@Req() request: Request, @Param('ref') reference: string, @Query('force') force?: string): Promise<RemoveImageReply> {
    return this.images.remove(reference, parseFlag(force, 'force'), commandMetaFrom(request, this.config.nodeId));
  }
}
