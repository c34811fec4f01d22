import { Logger, Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { domainUpcasters } from '@strata/domain';
import { EVENT_STORE, openEventStore, type EventStore } from '@strata/eventstore';
import { ContentLeases, FsContentStore, openSnapshotter } from '@strata/layers';
import { ProjectionEngine } from '@strata/projections';
import { RuncRuntime } from '@strata/runtime';
import { join } from 'node:path';
import { AuthGuard } from './auth/auth.guard.js';
import { TokenStore } from './auth/token-store.js';
import { Principals } from './auth/principals.service.js';
import { RegistryTokenKey } from './auth/registry-token-key.js';
import { TokensController } from './auth/tokens.controller.js';
import { PullAudit } from './registry/pull-audit.js';
import { CommandGateway } from './commands/command-gateway.js';
import { AggregateStates } from './commands/aggregate-states.js';
import { ExecuteCommandHandler } from './commands/execute-command.handler.js';
import { HandlerErrors } from './commands/handler-errors.js';
import { NODE_CONFIG, type NodeConfig } from './config/node-config.js';
import { AdminController } from './http/admin.controller.js';
import { CommandsController } from './http/commands.controller.js';
import { EventsController } from './http/events.controller.js';
import { ProblemFilter } from './http/problem.filter.js';
import { RepositoriesController } from './http/repositories.controller.js';
import { SystemController } from './http/system.controller.js';
import { ImagesController } from './http/images.controller.js';
import { PruneController } from './http/prune.controller.js';
import { CommandSteps } from './commands/command-steps.js';
import { ImageResolver } from './images/image-resolver.js';
import { ImagesService } from './images/images.service.js';
import { CONTENT_STORE, SNAPSHOTTER } from './images/layer-tokens.js';
import { ContainerCommitService } from './containers/container-commit.service.js';
import { BuildCache } from './builds/build-cache.js';
import { BuildImages } from './builds/build-images.js';
import { BuildRecovery } from './builds/build-recovery.js';
import { BuildStepRunner } from './builds/build-step-runner.js';
import { BuildsService } from './builds/builds.service.js';
import { BuildsController } from './http/builds.controller.js';
import { ContainerFiles } from './containers/container-files.js';
import { ContainerFilesystem } from './containers/container-filesystem.service.js';
import { ContainerProcesses } from './containers/container-processes.js';
import { ContainerResolver } from './containers/container-resolver.js';
import { ContainerRootfs } from './containers/container-rootfs.js';
import { ContainersService } from './containers/containers.service.js';
import { RUNTIME } from './containers/runtime-token.js';
import { ContainersController } from './http/containers.controller.js';
import { ContentController } from './http/content.controller.js';
import { Metrics } from './metrics/metrics.js';
import { ReadModels } from './projections/read-models.service.js';
import { RegistryAccess } from './registry/registry-access.js';
import { RegistryBlobs } from './registry/registry-blobs.service.js';
import { RegistryController } from './registry/registry.controller.js';
import { RegistryListing } from './registry/registry-listing.service.js';
import { RegistryManifests } from './registry/registry-manifests.service.js';
import { RegistryUploads } from './registry/registry-uploads.js';
import { RepositoryContent } from './registry/repository-content.js';
import { NatsCommandServer } from './nats/nats-command-server.js';
import { Failover } from './cluster/failover.service.js';
import { BlobExchange } from './cluster/blob-exchange.js';
import { Membership } from './cluster/membership.service.js';
import { NatsClient } from './cluster/nats-client.js';
import { NodeRouter } from './cluster/node-router.js';
import { Placement } from './cluster/placement.service.js';
import { NodesController } from './http/nodes.controller.js';
import { ImageTransferController } from './http/image-transfer.controller.js';
import { BlobSources } from './images/blob-sources.js';
import { ImagePullService } from './images/image-pull.service.js';
import { ImagePushService } from './images/image-push.service.js';
import { MirrorsController } from './http/mirrors.controller.js';
import { MirrorService } from './mirrors/mirror.service.js';

/** The only place where adapters are wired to ports. */
@Module({})
export class AppModule {
  static forRoot(config: NodeConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [CqrsModule.forRoot()],
      controllers: [
        SystemController,
        RepositoriesController,
        ImagesController,
        ContainersController,
        ContentController,
        PruneController,
        CommandsController,
        EventsController,
        AdminController,
        RegistryController,
        NodesController,
        ImageTransferController,
        TokensController,
        BuildsController,
        MirrorsController,
      ],
      providers: [
        { provide: NODE_CONFIG, useValue: config },
        {
          provide: EVENT_STORE,
          // SQLite in the data directory by default; JetStream when a NATS url is configured (DESIGN.md).
          useFactory: (): Promise<EventStore> =>
            openEventStore(
              config.natsUrl
                ? { kind: 'jetstream', url: config.natsUrl, stream: config.natsStream, replicas: config.natsReplicas }
                : { kind: 'sqlite', path: join(config.dataDir, 'strata.db'), synchronous: config.synchronous },
              { upcasters: domainUpcasters() },
            ),
        },
        {
          provide: ProjectionEngine,
          inject: [EVENT_STORE],
          useFactory: async (store: EventStore) => {
            const engine = await ProjectionEngine.open({ path: join(config.dataDir, 'read.db'), store });
            engine.start();
            return engine;
          },
        },
        // The content store lives in the data directory itself: <dataDir>/blobs/sha256/<hex> (DESIGN.md).
        { provide: CONTENT_STORE, useFactory: () => FsContentStore.open(config.dataDir) },
        { provide: ContentLeases, useValue: new ContentLeases() },
        {
          // Overlay when this machine can (root, kernel overlayfs, xattrs), native otherwise; the node says which.
          provide: SNAPSHOTTER,
          useFactory: async () => {
            const opened = await openSnapshotter(join(config.dataDir, 'snapshots'), { prefer: config.snapshotter });
            new Logger('layers').log({ msg: `snapshotter: ${opened.snapshotter.name}`, snapshotter: opened.snapshotter.name, reason: opened.reason });
            return opened;
          },
        },
        ImageResolver,
        CommandSteps,
        ImagesService,
        BlobSources,
        ImagePullService,
        ImagePushService,
        { provide: RUNTIME, useFactory: () => new RuncRuntime({ root: join(config.dataDir, 'runtime') }) },
        ContainerRootfs,
        ContainerResolver,
        ContainerFiles,
        ContainerProcesses,
        ContainersService,
        ContainerCommitService,
        BuildsService,
        BuildStepRunner,
        BuildImages,
        BuildCache,
        BuildRecovery,
        ContainerFilesystem,
        { provide: TokenStore, useFactory: () => new TokenStore(config.dataDir, config.adminToken) },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
        Metrics,
        ReadModels,
        CommandGateway,
        NatsCommandServer,
        { provide: NatsClient, useFactory: () => NatsClient.open(config) },
        Membership,
        NodeRouter,
        Placement,
        Failover,
        BlobExchange,
        // The command path's folded states (bounded; a hint the append's expected version checks).
        { provide: AggregateStates, useFactory: () => new AggregateStates() },
        ExecuteCommandHandler,
        HandlerErrors,
        RegistryAccess,
        RegistryUploads,
        RepositoryContent,
        RegistryBlobs,
        RegistryManifests,
        RegistryListing,
        Principals,
        RegistryTokenKey,
        PullAudit,
        MirrorService,
      ],
    };
  }
}
