import { Controller, Get, Post, Query, Res } from '@nestjs/common';
import type { ChecksumReply, ProjectionsReply, ReplayProgress, ReplayResult } from '@strata/api';
import type { Response } from 'express';
import { ReadModels, type ReadOptions } from '../projections/read-models.service.js';

@Controller('admin')
export class AdminController {
  constructor(private readonly reads: ReadModels) {}

  /** Each projection's position and lag behind the log head. */
  @Get('projections')
  projections(): Promise<ProjectionsReply> {
    return this.reads.engine.status();
  }

  @Get('checksum')
  async checksum(@Query() q: ReadOptions): Promise<ChecksumReply> {
    const { value, position } = await this.reads.read(q, (m) => m.checksum());
    return { checksum: value, position };
  }

  /**
   * Rebuilds every read model from position 0 (into a new read database, swapped in at the end) and
   * streams progress as NDJSON, then the checksums before and after: equal when projections are pure.
   */
  @Post('replay')
  async replay(@Res() response: Response): Promise<void> {
    response.status(200).type('application/x-ndjson');
    response.flushHeaders();
    const result = await this.reads.engine.replay((p) => {
      const line: ReplayProgress = { kind: 'progress', position: p.position, head: p.head, events: p.events };
      response.write(`${JSON.stringify(line)}\n`);
    });
    const done: ReplayResult = { kind: 'result', ...result };
    response.end(`${JSON.stringify(done)}\n`);
  }
}
