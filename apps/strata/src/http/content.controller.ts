import { Controller, Get, Inject, Param, Res } from '@nestjs/common';
import type { ContentStore } from '@strata/layers';
import type { Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { CONTENT_STORE } from '../images/layer-tokens.js';
import { ApiError } from './api-error.js';

/**
 * A blob by its digest: what a file contained at some point of a container's history (the digests in
 * ContainerFilesChanged), a layer, a config. Read-only, like a registry's blob GET.
 */
@Controller('content')
export class ContentController {
  constructor(@Inject(CONTENT_STORE) private readonly content: ContentStore) {}

  @Get(':digest')
  async blob(@Param('digest') digest: string, @Res() response: Response): Promise<void> {
    const info = await this.content.info(digest);
    if (!info) throw new ApiError(404, 'BLOB_UNKNOWN', `no blob ${digest} in this node's content store`);
    response.status(200).type('application/octet-stream').setHeader('Content-Length', String(info.size));
    await pipeline(this.content.read(digest), response);
  }
}
