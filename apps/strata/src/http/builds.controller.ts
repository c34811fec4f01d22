import { Controller, Get, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { BuildHistoryReply, BuildProgress, BuildView } from '@strata/api';
import { assertBuildId, buildStreamId, notFound } from '@strata/domain';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import type { Request, Response } from 'express';
import { buildViewOf, eventViewOf } from '../builds/build-view.js';
import { BuildsService } from '../builds/builds.service.js';
import { commandMetaFrom } from '../commands/command-meta.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ApiError } from './api-error.js';
import { toProblem } from './problem.filter.js';
import { parseFlag } from './query-flags.js';

const ARCHIVE_TYPES = /^application\/(x-tar|tar|gzip|x-gzip|octet-stream)\b/i;

/** `--build-arg K=V`, repeated as `?buildArg=K=V`. */
function buildArgs(value: string | string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of value === undefined ? [] : Array.isArray(value) ? value : [value]) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ApiError(400, 'VALIDATION_FAILED', `buildArg must be NAME=value, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * Builds: POST the context (a tar, streamed) and read the progress as NDJSON; a build's record and
 * its stream afterwards. Inputs are checked before the answer starts, so a bad Dockerfile or an
 * unknown base image is an ordinary problem+json answer; after that, the last line tells the outcome.
 */
@Controller('builds')
export class BuildsController {
  constructor(
    private readonly builds: BuildsService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  @Post()
  async build(
    @Req() request: Request,
    @Res() response: Response,
    @Query() q: { tag?: string; dockerfile?: string; buildArg?: string | string[]; noCache?: string },
  ): Promise<void> {
    const type = request.headers['content-type'] ?? '';
    if (!ARCHIVE_TYPES.test(type)) throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `send the build context as application/x-tar (got ${type || 'no content type'})`);
    const prepared = await this.builds.prepare(
      request,
      { tag: q.tag || undefined, dockerfile: q.dockerfile || undefined, buildArgs: buildArgs(q.buildArg), noCache: parseFlag(q.noCache, 'noCache') },
      commandMetaFrom(request, this.config.nodeId),
    );
    response.status(200).type('application/x-ndjson');
    response.flushHeaders();
    // A client that goes away does not stop the build: it runs to its recorded end, as a saga should.
    const emit = (progress: BuildProgress) => {
      if (!response.writableEnded && !response.destroyed) response.write(`${JSON.stringify(progress)}\n`);
    };
    try {
      await this.builds.run(prepared, emit);
    } catch (error) {
      emit(toProblem(error, request.originalUrl) as never);
    }
    response.end();
  }

  @Get(':id')
  async inspect(@Param('id') id: string): Promise<BuildView> {
    const view = buildViewOf(await this.store.readStream(buildStreamId(assertBuildId(id))));
    if (!view) throw notFound('BUILD_NOT_FOUND', `no such build: ${id}`, { buildId: id });
    return view;
  }

  @Get(':id/history')
  async history(@Param('id') id: string): Promise<BuildHistoryReply> {
    const events = await this.store.readStream(buildStreamId(assertBuildId(id)));
    if (events.length === 0) throw notFound('BUILD_NOT_FOUND', `no such build: ${id}`, { buildId: id });
    return { buildId: id, items: events.map(eventViewOf) };
  }
}
