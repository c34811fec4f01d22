import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { HealthReply, StatusReply } from '@strata/api';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import type { Response } from 'express';
import { Public, type AuthenticatedRequest } from '../auth/auth.guard.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import type { OpenedSnapshotter } from '@strata/layers';
import { SNAPSHOTTER } from '../images/layer-tokens.js';
import { Metrics } from '../metrics/metrics.js';
import { ReadModels } from '../projections/read-models.service.js';
import { openApiDocument } from './openapi.js';
import { STRATA_VERSION } from '../version.js';

const startedAt = Date.now();

@Controller()
export class SystemController {
  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly reads: ReadModels,
    private readonly metrics: Metrics,
    @Inject(SNAPSHOTTER) private readonly snapshots: OpenedSnapshotter,
  ) {}

  /** Liveness, the only route that needs no token. */
  @Public()
  @Get('healthz')
  async healthz(): Promise<HealthReply> {
    const log = this.store.health();
    // During a NATS outage the node is alive and serves reads: 200, "degraded", and no head (it lives on NATS).
    return {
      status: log.connected ? 'ok' : 'degraded',
      nodeId: this.config.nodeId,
      eventLog: log,
      head: log.connected ? await this.store.head() : null,
    };
  }

  @Get('status')
  async status(@Req() request: AuthenticatedRequest): Promise<StatusReply> {
    const { head, projections } = await this.reads.engine.status();
    return {
      nodeId: this.config.nodeId,
      version: STRATA_VERSION,
      backend: this.store.health().backend,
      snapshotter: { name: this.snapshots.snapshotter.name, reason: this.snapshots.reason },
      dataDir: this.config.dataDir,
      head,
      projections,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      principal: request.principal.name,
    };
  }

  /** Prometheus exposition; scrape it with a bearer token like any other client. */
  @Get('metrics')
  async prometheus(@Res() response: Response): Promise<void> {
    const { projections } = await this.reads.engine.status();
    for (const p of projections) this.metrics.projectionLag.set({ projection: p.name }, p.lag);
    response.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }

  @Get('openapi.json')
  openapi() {
    return openApiDocument();
  }
}
