import { Controller, Get, Post, Query, Res } from '@nestjs/common';
import type { ChecksumReply, ProjectionsReply, ReplayProgress, ReplayResult } from '@strata/api';
import type { Response } from 'express';
import { AggregateStates } from '../commands/aggregate-states.js';
import { ReadModels, type ReadOptions } from '../projections/read-models.service.js';
import { toProblem } from './problem.filter.js';

@Controller('admin')
export class AdminController {
  constructor(
    private readonly reads: ReadModels,
    private readonly states: AggregateStates,
  ) {}

  /** Each projection's position and lag behind the log head. */
  @Get('projections')
  projections(): Promise<ProjectionsReply> {
    return this.reads.engine.status();
  }

  @Get('checksum')
  async checksum(@Query() q: ReadOptions): Promise<ChecksumReply> {
    const { value, position } = await this.reads.read(q, async (m) => ({ checksum: await m.checksum(), portable: await m.checksum({ portable: true }) }));
    return { checksum: value.checksum, portableChecksum: value.portable, position };
  }

  /**
   * Rebuilds every read model from position 0 (into a new read database, swapped in at the end) and
   * streams progress as NDJSON, then the checksums before and after: equal when projections are pure.
   */
  @Post('replay')
  async replay(@Res() response: Response): Promise<void> {
    const write = (line: object) => {
      if (!response.headersSent) response.status(200).type('application/x-ndjson');
      response.write(`${JSON.stringify(line)}\n`);
    };
    // A replay rebuilds what is derived from the log; the command path's folded states are dropped too
    // (read again from the log on the next command of each stream).
    this.states.clear();
    try {
      const result = await this.reads.engine.replay((p) => {
        const line: ReplayProgress = { kind: 'progress', position: p.position, head: p.head, events: p.events };
        write(line);
      });
      const done: ReplayResult = { kind: 'result', ...result };
      write(done);
      response.end();
    } catch (error) {
      if (!response.headersSent) throw error; // e.g. a replay already running: a plain 409 problem
      // Once the 200 is out, a failure can only be told in-band, as a problem on its own line.
      write(toProblem(error, '/admin/replay'));
      response.end();
    }
  }
}
