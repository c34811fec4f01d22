import 'reflect-metadata';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import type { NextFunction, Request, Response } from 'express';
import { AppModule } from './app.module.js';
import { TokenStore } from './auth/token-store.js';
import type { NodeConfig } from './config/node-config.js';
import { jsonBodyParser } from './http/body-parser.js';
import { Metrics } from './metrics/metrics.js';
import { Membership } from './cluster/membership.service.js';

export interface RunningNode {
  app: NestExpressApplication;
  url: string;
  config: NodeConfig;
  close(): Promise<void>;
}

/** Starts a node: HTTP on config.host:config.port (port 0 picks a free one), projections running. */
export async function startNode(config: NodeConfig, options: { quiet?: boolean } = {}): Promise<RunningNode> {
  const logger = options.quiet
    ? false
    : new ConsoleLogger({ json: config.logFormat === 'json', prefix: 'strata', logLevels: ['log', 'warn', 'error', 'fatal'] });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger: logger === false ? ['error', 'fatal'] : logger,
    abortOnError: false,
  });
  app.disable('x-powered-by');
  app.set('query parser', 'extended');
  const metrics = app.get(Metrics);
  app.use((request: Request, response: Response, next: NextFunction) => {
    const end = metrics.httpRequests.startTimer({ method: request.method });
    response.on('finish', () => end({ route: request.route?.path ?? 'unmatched', status: String(response.statusCode) }));
    next();
  });
  app.use(jsonBodyParser(config.bodyLimit));
  app.enableShutdownHooks();

  const tokens = app.get(TokenStore);
  const created = tokens.ensureAdmin();
  await app.listen(config.port, config.host);
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://${config.host}:${address.port}`;
  // In a cluster the node joins once its address is known (it beats first, so nobody takes it for lost).
  await app.get(Membership).join(url);
  const log = new Logger('node');
  const store = app.get<EventStore>(EVENT_STORE);
  log.log({ msg: 'node listening', url, nodeId: config.nodeId, dataDir: config.dataDir, backend: store.health().backend, eventLog: store.health().detail, head: await store.head() });
  if (created) log.log({ msg: `admin token created: ${tokens.adminTokenFile} (the CLI reads it from there)`, file: tokens.adminTokenFile });
  else if (!config.adminToken) log.log({ msg: `admin token: ${tokens.adminTokenFile}`, file: tokens.adminTokenFile });

  let closing: Promise<void> | null = null;
  return {
    app,
    url,
    config,
    close: () => (closing ??= (async () => {
      // A client that stopped reading a long answer (a save, a file) must not hold the shutdown forever.
      const server = app.getHttpServer() as import('node:http').Server;
      const force = setTimeout(() => server.closeAllConnections(), 2000);
      force.unref();
      await app.close();
      clearTimeout(force);
      await store.close();
    })()),
  };
}
