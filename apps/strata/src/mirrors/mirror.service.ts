import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { AddMirrorRequest, CommandReply, MirrorView } from '@strata/api';
import {
  assertRepositoryName,
  fold,
  MIRROR_CATEGORY,
  mirrorDecider,
  mirrorStreamId,
  normalizeMirrorSource,
  repositoryDecider,
  repositoryStreamId,
  type CommandMeta,
  type EventEnvelope,
  type MirrorAddedData,
  type MirrorEvent,
} from '@strata/domain';
import { EVENT_STORE, type EventStore, type Subscription } from '@strata/eventstore';
import type { RegistryCredentials } from '@strata/registry';
import { ExecuteCommand } from '../commands/execute-command.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { NatsClient } from '../cluster/nats-client.js';
import { ApiError } from '../http/api-error.js';
import { ImagePullService } from '../images/image-pull.service.js';
import { ReadModels } from '../projections/read-models.service.js';
import { STRATA_VERSION } from '../version.js';
import { MirrorCredentials, MirrorPositions } from './mirror-files.js';
import { MirrorLeases } from './mirror-leases.js';
import { MirrorWorker, type MirrorSink } from './mirror-worker.js';

interface MirrorRecord extends MirrorAddedData {
  createdAt: string;
  createdBy: string;
}

/** The actor of what a mirror records on this node: `mirror-<id>`, so the audit log says where a tag came from. */
const mirrorActor = (id: string) => `mirror-${id}`;

/**
 * Mirrors (issue 6 part 5): the log says which exist (MirrorAdded / MirrorRemoved on `mirror-<id>`);
 * this service runs one MirrorWorker per active mirror, started from the log at boot and on every
 * MirrorAdded it sees afterwards (a subscription to this node's log), stopped on MirrorRemoved and on
 * shutdown. Credentials live in `<dataDir>/mirror-credentials.json`, positions in
 * `<dataDir>/mirror-positions.json`: neither is in the log. On NATS (a shared log) a mirror's worker
 * runs only on the node holding its lease in the KV bucket `strata_mirror_leases` (MirrorLeases); the
 * others stand by. A node that takes a lease forgets its stored position, so it starts with a full sync.
 */
@Injectable()
export class MirrorService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('mirror');
  private readonly credentials: MirrorCredentials;
  private readonly positions: MirrorPositions;
  private readonly mirrors = new Map<string, MirrorRecord>();
  private readonly workers = new Map<string, MirrorWorker>();
  /** Workers being stopped (a lease lost, a removal): a new worker for the same mirror waits for them. */
  private readonly stopping = new Map<string, Promise<void>>();
  /** Null on SQLite alone: then this node runs every mirror. */
  private leases: MirrorLeases | null = null;
  private subscription: Subscription | null = null;
  private following: Promise<void> | null = null;
  private closing = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly reads: ReadModels,
    private readonly commandBus: CommandBus,
    private readonly pulls: ImagePullService,
    private readonly nats: NatsClient,
  ) {
    this.credentials = new MirrorCredentials(config.dataDir);
    this.positions = new MirrorPositions(config.dataDir);
  }

  async onApplicationBootstrap(): Promise<void> {
    const head = await this.store.head();
    await this.reads.catchUpToHead();
    for (let after = 0; ; ) {
      const page = await this.reads.engine.queryEvents({ category: MIRROR_CATEGORY, untilPosition: head, after, limit: 10_000 });
      for (const event of page.items) this.apply(event as unknown as EventEnvelope);
      if (page.next === null || page.next === undefined) break;
      after = page.next;
    }
    const nc = this.nats.connection;
    if (nc) {
      this.leases = await MirrorLeases.open(nc, {
        nodeId: this.config.nodeId,
        ttlMs: this.config.nodeTtlMs,
        heartbeatMs: this.config.heartbeatMs,
        replicas: this.config.natsReplicas,
        wanted: () => [...this.mirrors.keys()].map((id) => ({ id, credentials: this.credentials.get(id) !== null })),
        gained: (id) => {
          // This node's position may be from an earlier turn (others followed since): start over with a full sync.
          this.positions.set(id, null);
          this.startWorker(id);
        },
        lost: (id) => void this.stopWorker(id),
        log: (level, message) => this.logger[level](message),
      });
      this.leases.start();
    } else {
      for (const id of this.mirrors.keys()) this.startWorker(id);
    }
    // Mirrors added or removed from now on (by this node's API, or another node's on a shared log).
    this.subscription = this.store.subscribe(head);
    const subscription = this.subscription;
    this.following = (async () => {
      try {
        for await (const event of subscription) {
          if (!event.streamId.startsWith(`${MIRROR_CATEGORY}-`)) continue;
          // The subscription may lag behind this node's own add/remove: act on what the stream says now.
          const id = (event.data as { id: string }).id;
          const state = fold(mirrorDecider, (await this.store.readStream(event.streamId)) as MirrorEvent[]);
          if (state.status === 'active' && state.mirror) {
            if (!this.mirrors.has(id)) this.apply(event);
            await this.run(id);
          } else {
            await this.forget(id);
          }
        }
      } catch (error) {
        if (!this.closing) this.logger.error({ msg: 'mirror subscription ended', error: (error as Error).message });
      }
    })();
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    await this.subscription?.close();
    await this.following;
    // Leases are still renewed while the workers finish their step; then deleted, so another node takes them at once.
    await Promise.all([...this.workers.keys()].map((id) => this.stopWorker(id)));
    await Promise.all(this.stopping.values());
    await this.leases?.stop();
    await this.leases?.releaseAll();
  }

  list(): MirrorView[] {
    return [...this.mirrors.values()].map((m) => this.view(m));
  }

  get(id: string): MirrorView {
    const mirror = this.mirrors.get(id);
    if (!mirror) throw new ApiError(404, 'MIRROR_NOT_FOUND', `no mirror ${id}`, { id });
    return this.view(mirror);
  }

  async add(meta: CommandMeta, request: AddMirrorRequest): Promise<{ mirror: MirrorView; reply: CommandReply }> {
    if (!request || typeof request !== 'object') throw new ApiError(400, 'VALIDATION_FAILED', 'body: {"source": "http://host:port", "repository": "team/app"}');
    const source = normalizeMirrorSource(request.source);
    const repository = assertRepositoryName(request.repository);
    const localRepository = assertRepositoryName(request.localRepository ?? repository);
    const credentials = checkCredentials(request.credentials);
    // The id follows from the command id, so a retried request (same Idempotency-Key) names the same mirror:
    // sent to another node of a shared log, it gives that node the credentials too (so it can run the mirror).
    const id = createHash('sha256').update(meta.commandId).digest('hex').slice(0, 12);
    const history = await this.store.readStream(mirrorStreamId(id));
    if (history.length > 0) {
      // A retry: the mirror it added must still be there, and be this one (the log says, not this node's map).
      const recorded = fold(mirrorDecider, history as MirrorEvent[]);
      if (recorded.status !== 'active' || !recorded.mirror) throw new ApiError(404, 'MIRROR_NOT_FOUND', `mirror ${id}, added with this Idempotency-Key, was removed since`, { id });
      const m = recorded.mirror;
      if (m.source !== source || m.repository !== repository || m.localRepository !== localRepository) {
        throw new ApiError(409, 'MIRROR_EXISTS', `this Idempotency-Key already added mirror ${id} (${m.source}/${m.repository} into ${m.localRepository})`, { id });
      }
      if (!this.mirrors.has(id)) this.apply(history[0]!);
    }
    for (const m of this.mirrors.values()) {
      if (m.localRepository === localRepository && m.id !== id) {
        throw new ApiError(409, 'MIRROR_EXISTS', `${localRepository} already mirrors ${m.source}/${m.repository} (mirror ${m.id}): remove it first`, { id: m.id });
      }
    }
    // Credentials first, then the event (as tokens.json): a crash between leaves credentials no mirror uses.
    this.credentials.set(id, credentials);
    const reply = (await this.commandBus.execute(new ExecuteCommand('AddMirror', { id, source, repository, localRepository }, meta))) as CommandReply;
    // The subscription sees the event too; applying it here makes the answer (and GET /mirrors) current at once.
    if (!this.mirrors.has(id)) this.mirrors.set(id, { id, source, repository, localRepository, createdAt: meta.occurredAt, createdBy: meta.actor });
    await this.run(id);
    return { mirror: this.get(id), reply };
  }

  async remove(meta: CommandMeta, id: string): Promise<CommandReply> {
    const reply = (await this.commandBus.execute(new ExecuteCommand('RemoveMirror', { id }, meta))) as CommandReply;
    await this.forget(id);
    return reply;
  }

  /** An active mirror: run it here (SQLite), or compete for its lease now (NATS). */
  private async run(id: string): Promise<void> {
    if (this.leases) await this.leases.poke();
    else this.startWorker(id);
  }

  /** A removed mirror: stop it, give its lease up, and drop what this node kept for it (every node does). */
  private async forget(id: string): Promise<void> {
    this.mirrors.delete(id);
    await this.stopWorker(id);
    await this.stopping.get(id);
    await this.leases?.release(id);
    this.credentials.set(id, null);
    this.positions.set(id, null);
  }

  private apply(event: EventEnvelope): void {
    const e = event as unknown as MirrorEvent & { occurredAt: string; actor: string };
    if (e.type === 'MirrorAdded') this.mirrors.set(e.data.id, { ...e.data, createdAt: e.occurredAt, createdBy: e.actor });
    else if (e.type === 'MirrorRemoved') this.mirrors.delete(e.data.id);
  }

  private startWorker(id: string): void {
    const mirror = this.mirrors.get(id);
    if (!mirror || this.workers.has(id) || this.closing) return;
    if (this.leases && !this.leases.holds(id)) return;
    const previous = this.stopping.get(id);
    if (previous) {
      // The last worker of this mirror is still finishing its step: never two at once.
      void previous.then(
        () => this.startWorker(id),
        () => this.startWorker(id),
      );
      return;
    }
    const { createdAt: _c, createdBy: _b, ...data } = mirror;
    const worker = new MirrorWorker(data, {
      credentials: this.credentials.get(id),
      positions: this.positions,
      sink: this.sink,
      userAgent: `strata/${STRATA_VERSION} (mirror)`,
      pollIntervalMs: Number(process.env.STRATA_MIRROR_POLL_MS ?? 5_000),
      log: (level, message) => this.logger[level](message),
    });
    this.workers.set(id, worker);
    worker.start();
    this.logger.log({ msg: 'mirror started', mirror: id, source: mirror.source, repository: mirror.repository, localRepository: mirror.localRepository });
  }

  private async stopWorker(id: string): Promise<void> {
    const worker = this.workers.get(id);
    if (!worker) return;
    this.workers.delete(id);
    const stopped = worker.stop().finally(() => this.stopping.delete(id));
    this.stopping.set(id, stopped);
    await stopped;
    this.logger.log({ msg: 'mirror stopped', mirror: id });
  }

  private view(m: MirrorRecord): MirrorView {
    const worker = this.workers.get(m.id);
    return {
      id: m.id,
      source: m.source,
      repository: m.repository,
      localRepository: m.localRepository,
      hasCredentials: this.credentials.get(m.id) !== null,
      createdAt: m.createdAt,
      createdBy: m.createdBy,
      runner: this.leases ? this.leases.runner(m.id) : this.config.nodeId,
      state: worker?.state ?? (this.leases && !this.leases.holds(m.id) ? 'standby' : 'stopped'),
      position: this.positions.get(m.id),
      lastSyncAt: worker?.lastSyncAt ?? null,
      lastError: worker?.lastError ?? null,
      pulled: worker?.pulled ?? 0,
      untagged: worker?.untagged ?? 0,
    };
  }

  private meta(id: string, commandId: string): CommandMeta {
    return { commandId, actor: mirrorActor(id), correlationId: commandId, causationId: null, occurredAt: new Date().toISOString(), nodeId: this.config.nodeId };
  }

  private readonly sink: MirrorSink = {
    localTags: async (repository) => {
      const state = fold(repositoryDecider, (await this.store.readStream(repositoryStreamId(repository))) as never[]);
      return state.status === 'active' ? { ...state.tags } : {};
    },
    pull: async (mirror, registry, tag, digest, credentials, commandId) => {
      const reply = await this.pulls.pull(
        { remote: `${registry}/${mirror.repository}@${digest}`, tag: `${mirror.localRepository}:${tag}`, insecure: new URL(mirror.source).protocol === 'http:' },
        () => credentials,
        this.meta(mirror.id, commandId),
        () => undefined,
      );
      return reply.manifestDigest;
    },
    untag: async (mirror, tag, commandId) => {
      try {
        await this.commandBus.execute(new ExecuteCommand('UntagImage', { name: mirror.localRepository, tag }, this.meta(mirror.id, commandId)));
      } catch (error) {
        if ((error as { code?: string }).code !== 'TAG_NOT_FOUND') throw error;
      }
    },
  };
}

function checkCredentials(value: unknown): RegistryCredentials | null {
  if (value === undefined || value === null) return null;
  const c = value as Partial<RegistryCredentials>;
  if (typeof c !== 'object' || typeof c.username !== 'string' || !c.username || typeof c.password !== 'string' || !c.password || c.password.length > 4096) {
    throw new ApiError(400, 'VALIDATION_FAILED', 'credentials must be {"username", "password"} (the password: an API token of the source node)');
  }
  return { username: c.username, password: c.password };
}
