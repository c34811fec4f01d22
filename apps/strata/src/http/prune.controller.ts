import { Controller, HttpCode, Post, Query } from '@nestjs/common';
import type { PruneReply } from '@strata/api';
import { ImagesService } from '../images/images.service.js';
import { parseFlag } from './query-flags.js';

/** `strata system prune`: the content store's mark and sweep, driven by the projections. */
@Controller('system')
export class PruneController {
  constructor(private readonly images: ImagesService) {}

  @Post('prune')
  @HttpCode(200)
  prune(@Query('dryRun') dryRun?: string): Promise<PruneReply> {
    return this.images.prune(parseFlag(dryRun, 'dryRun'));
  }
}
