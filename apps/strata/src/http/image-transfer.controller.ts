import { Body, Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { PullImageRequest, PushImageRequest, RegistryLoginReply, RegistryLoginRequest, TransferProgress } from '@strata/api';
import type { Request, Response } from 'express';
import { commandMetaFrom } from '../commands/command-meta.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ImagePullService } from '../images/image-pull.service.js';
import { ImagePushService } from '../images/image-push.service.js';
import { registryCredentials } from '../images/registry-auth.js';
import { ApiError } from './api-error.js';
import { toProblem } from './problem.filter.js';

/**
 * Pull from and push to other registries (the node does the transfer: it owns the content store).
 * The answer is NDJSON (TransferProgress lines), begun only once the remote manifest is resolved, so
 * a wrong name, refused credentials or an unreachable registry are ordinary problem answers; a failure
 * after that arrives as a problem object on its own line. Remote credentials come in X-Registry-Auth.
 */
@Controller()
export class ImageTransferController {
  constructor(
    private readonly pulls: ImagePullService,
    private readonly pushes: ImagePushService,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  @Post('images/pull')
  async pull(@Req() request: Request, @Body() body: PullImageRequest, @Res() response: Response): Promise<void> {
    const meta = commandMetaFrom(request, this.config.nodeId);
    await stream(response, request, (emit) => this.pulls.pull(body, (registry) => registryCredentials(request, registry), meta, emit).then((pull) => ({ kind: 'result', pull })));
  }

  @Post('images/push')
  async push(@Req() request: Request, @Body() body: PushImageRequest, @Res() response: Response): Promise<void> {
    await stream(response, request, (emit) => this.pushes.push(body, (registry) => registryCredentials(request, registry), emit).then((push) => ({ kind: 'result', push })));
  }

  @Post('registries/login')
  @HttpCode(200)
  async login(@Req() request: Request, @Body() body: RegistryLoginRequest): Promise<RegistryLoginReply> {
    if (!body || typeof body.registry !== 'string' || body.registry === '') throw new ApiError(400, 'VALIDATION_FAILED', 'registry is required: {"registry": "host[:port]"}');
    const registry = body.registry.toLowerCase();
    await this.pushes.login(registry, body.insecure === true, registryCredentials(request, registry));
    return { registry, ok: true };
  }
}

async function stream(response: Response, request: Request, work: (emit: (line: TransferProgress) => void) => Promise<TransferProgress>): Promise<void> {
  const write = (line: object) => {
    if (!response.headersSent) response.status(200).type('application/x-ndjson').setHeader('Cache-Control', 'no-store');
    response.write(`${JSON.stringify(line)}\n`);
  };
  try {
    write(await work(write));
    response.end();
  } catch (error) {
    if (!response.headersSent) throw error; // an ordinary problem answer
    write(toProblem(error, request.originalUrl));
    response.end();
  }
}
