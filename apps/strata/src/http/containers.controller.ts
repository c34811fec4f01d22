import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import { pipeline } from 'node:stream/promises';
import type { CommitReply, ContainerReply, ContainerView, DiffEntryView, ExecReply, FileChangeView, ListReply, TopReply, WaitReply } from '@strata/api';
import type { Request, Response } from 'express';
import { commitBody, createBody, execBody } from '../containers/container-requests.js';
import { commandMetaFrom } from '../commands/command-meta.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ContainerCommitService } from '../containers/container-commit.service.js';
import { ContainerFilesystem } from '../containers/container-filesystem.service.js';
import { ContainersService } from '../containers/containers.service.js';
import { NodeRouter } from '../cluster/node-router.js';
import { Placement } from '../cluster/placement.service.js';
import { ReadModels, type ReadOptions } from '../projections/read-models.service.js';
import { ApiError } from './api-error.js';
import { parseFlag } from './query-flags.js';

function seconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,4}$/.test(value)) throw new ApiError(400, 'VALIDATION_FAILED', 't (the stop timeout) must be whole seconds');
  return Number(value);
}

/** Containers, Docker's verbs: a container is named by its id, a unique id prefix or its name. */
@Controller('containers')
export class ContainersController {
  constructor(
    private readonly containers: ContainersService,
    private readonly filesystem: ContainerFilesystem,
    private readonly commits: ContainerCommitService,
    private readonly reads: ReadModels,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly placement: Placement,
    private readonly router: NodeRouter,
  ) {}

  private meta(request: Request) {
    return commandMetaFrom(request, this.config.nodeId);
  }

  @Post()
  @HttpCode(201)
  create(@Req() request: Request, @Body() body: unknown): Promise<ContainerReply> {
    return this.placement.create(createBody.parse(body ?? {}), this.meta(request));
  }

  @Get()
  async list(@Query() q: ReadOptions & { all?: string }): Promise<ListReply<ContainerView>> {
    const all = parseFlag(q.all, 'all');
    const { value, position } = await this.reads.read(q, (m) => m.listContainers(all));
    return { items: value, position };
  }

  @Get(':ref')
  async inspect(@Param('ref') ref: string, @Query() q: ReadOptions): Promise<ContainerView> {
    if (q.at !== undefined || q.minPosition !== undefined) {
      const { value } = await this.reads.read(q, async (m) => (await m.findContainers(ref))[0] ?? null);
      if (!value) throw new ApiError(404, 'CONTAINER_NOT_FOUND', `no such container: ${ref}`);
      return value;
    }
    return this.containers.owned(ref).catch(async (error) => {
      if ((error as { code?: string }).code === 'CONTAINER_ON_OTHER_NODE') return (await this.reads.engine.findContainers(ref))[0]!;
      throw error;
    });
  }

  @Post(':ref/start')
  @HttpCode(200)
  start(@Req() r: Request, @Param('ref') ref: string): Promise<ContainerReply> {
    const meta = this.meta(r);
    return this.router.routed(ref, 'StartContainer', {}, meta, () => this.containers.start(ref, meta));
  }

  @Post(':ref/stop')
  @HttpCode(200)
  stop(@Req() r: Request, @Param('ref') ref: string, @Query('t') t?: string): Promise<ContainerReply> {
    const [meta, timeout] = [this.meta(r), seconds(t)];
    return this.router.routed(ref, 'StopContainer', { timeout }, meta, () => this.containers.stop(ref, timeout, meta));
  }

  @Post(':ref/restart')
  @HttpCode(200)
  restart(@Req() r: Request, @Param('ref') ref: string, @Query('t') t?: string): Promise<ContainerReply> {
    const [meta, timeout] = [this.meta(r), seconds(t)];
    return this.router.routed(ref, 'RestartContainer', { timeout }, meta, () => this.containers.restart(ref, timeout, meta));
  }

  @Post(':ref/kill')
  @HttpCode(200)
  kill(@Req() r: Request, @Param('ref') ref: string, @Query('signal') signal?: string): Promise<ContainerReply> {
    const meta = this.meta(r);
    return this.router.routed(ref, 'KillContainer', { signal }, meta, () => this.containers.kill(ref, signal ?? 'SIGKILL', meta));
  }

  @Post(':ref/pause')
  @HttpCode(200)
  pause(@Req() r: Request, @Param('ref') ref: string): Promise<ContainerReply> {
    const meta = this.meta(r);
    return this.router.routed(ref, 'PauseContainer', {}, meta, () => this.containers.pause(ref, meta));
  }

  @Post(':ref/unpause')
  @HttpCode(200)
  unpause(@Req() r: Request, @Param('ref') ref: string): Promise<ContainerReply> {
    const meta = this.meta(r);
    return this.router.routed(ref, 'UnpauseContainer', {}, meta, () => this.containers.unpause(ref, meta));
  }

  @Post(':ref/rename')
  @HttpCode(200)
  rename(@Req() r: Request, @Param('ref') ref: string, @Query('name') name?: string): Promise<ContainerReply> {
    if (!name) throw new ApiError(400, 'VALIDATION_FAILED', 'name is required: ?name=<new name>');
    const meta = this.meta(r);
    return this.router.routed(ref, 'RenameContainer', { name }, meta, () => this.containers.rename(ref, name, meta));
  }

  @Delete(':ref')
  @HttpCode(200)
  remove(@Req() r: Request, @Param('ref') ref: string, @Query('force') force?: string): Promise<ContainerReply> {
    const [meta, forced] = [this.meta(r), parseFlag(force, 'force')];
    return this.router.routed(ref, 'RemoveContainer', { force: forced }, meta, () => this.containers.remove(ref, forced, meta));
  }

  @Post(':ref/wait')
  @HttpCode(200)
  wait(@Param('ref') ref: string): Promise<WaitReply> {
    return this.containers.wait(ref);
  }

  @Post(':ref/exec')
  @HttpCode(200)
  exec(@Param('ref') ref: string, @Body() body: unknown): Promise<ExecReply> {
    return this.containers.exec(ref, execBody.parse(body ?? {}));
  }

  @Get(':ref/top')
  top(@Param('ref') ref: string): Promise<TopReply> {
    return this.containers.top(ref);
  }

  @Get(':ref/changes')
  diff(@Param('ref') ref: string): Promise<DiffEntryView[]> {
    return this.containers.diff(ref);
  }

  @Get(':ref/files')
  async readFile(@Param('ref') ref: string, @Query('path') path: string | undefined, @Res() response: Response): Promise<void> {
    const file = await this.filesystem.read(ref, path ?? '');
    response.status(200).type('application/octet-stream');
    await pipeline(file, response);
  }

  /** `docker cp <host-file> ctr:path`: the body is the file's bytes, streamed. */
  @Put(':ref/files')
  writeFile(@Req() r: Request, @Param('ref') ref: string, @Query() q: { path?: string; mode?: string }): Promise<ContainerReply> {
    if (q.mode !== undefined && !/^[0-7]{3,4}$/.test(q.mode)) throw new ApiError(400, 'VALIDATION_FAILED', 'mode must be octal, e.g. 644');
    return this.filesystem.write(ref, q.path ?? '', r, q.mode === undefined ? undefined : parseInt(q.mode, 8), this.meta(r));
  }

  @Delete(':ref/files')
  @HttpCode(200)
  deleteFile(@Req() r: Request, @Param('ref') ref: string, @Query('path') path?: string): Promise<ContainerReply> {
    return this.filesystem.remove(ref, path ?? '', this.meta(r));
  }

  @Post(':ref/commit')
  @HttpCode(201)
  commit(@Req() r: Request, @Param('ref') ref: string, @Body() body: unknown): Promise<CommitReply> {
    const [meta, input] = [this.meta(r), commitBody.parse(body ?? {})];
    return this.router.routed(ref, 'CommitLayer', input, meta, () => this.commits.commit(ref, input, meta));
  }

  /** Every recorded change of the writable layer (of one path with ?path=): who, when, which content. */
  @Get(':ref/files/history')
  async fileHistory(@Param('ref') ref: string, @Query() q: ReadOptions & { path?: string }): Promise<ListReply<FileChangeView>> {
    const { value, position } = await this.reads.read(q, async (m) => {
      const c = (await m.findContainers(ref))[0];
      if (!c) throw new ApiError(404, 'CONTAINER_NOT_FOUND', `no such container: ${ref}`);
      return m.fileChanges(c.id, q.path);
    });
    return { items: value, position };
  }

  /** Logs as NDJSON lines ({time, stream, line}); `follow` keeps the answer open until the container exits. */
  @Get(':ref/logs')
  async logs(@Param('ref') ref: string, @Query() q: { since?: string; tail?: string; follow?: string }, @Req() request: Request, @Res() response: Response): Promise<void> {
    const tail = q.tail === undefined || q.tail === 'all' ? undefined : Number(q.tail);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new ApiError(400, 'VALIDATION_FAILED', 'tail must be a line count or "all"');
    const abort = new AbortController();
    request.on('close', () => abort.abort());
    const lines = this.containers.logs(ref, { since: q.since, tail, follow: parseFlag(q.follow, 'follow'), signal: abort.signal });
    const iterator = lines[Symbol.asyncIterator]();
    const first = await iterator.next(); // errors (no such container) still answer as problems
    response.status(200).type('application/x-ndjson');
    response.flushHeaders();
    for (let next = first; !next.done; next = await iterator.next()) {
      if (!response.write(`${JSON.stringify(next.value)}\n`)) await new Promise((r) => response.once('drain', r));
    }
    response.end();
  }
}
