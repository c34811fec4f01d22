import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Kvm, type KV } from '@nats-io/kv';
import type { CommandReply, NodeView } from '@strata/api';
import { fold, nodeDecider, type CommandMeta, type NodeEvent, type NodeInfo } from '@strata/domain';
import type { ReadModel } from '@strata/projections';
import { ExecuteCommand } from '../commands/execute-command.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { SNAPSHOTTER } from '../images/layer-tokens.js';
import type { OpenedSnapshotter } from '@strata/layers';
import { ReadModels } from '../projections/read-models.service.js';
import { STRATA_VERSION } from '../version.js';
import { NatsClient } from './nats-client.js';
import type { PlacementCandidate } from './scheduler.js';

/** The heartbeat bucket: one key per node, expiring after the node TTL (a JetStream KV with max age). */
export const HEARTBEAT_BUCKET = 'strata_nodes';

interface Heartbeat {
  at: string;
  address: string;
}

/**
 * Cluster membership (only on NATS): the node joins with NodeJoined, beats in a KV bucket with a TTL,
 * leaves with NodeLeft, and watches the others: a ready node whose key expired is declared lost, once
 * (the decider refuses a second NodeLost, and every declarer uses the same command id). What follows a
 * loss (its containers) is the Failover's business, told through `onLost`.
 */
@Injectable()
export class Membership implements OnModuleDestroy {
  private readonly logger = new Logger('cluster');
  private kv: KV | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private address = '';
  private stopped = false;
  private readonly lostListeners: Array<(nodeId: string, meta: CommandMeta) => Promise<void>> = [];

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly nats: NatsClient,
    private readonly commandBus: CommandBus,
    private readonly reads: ReadModels,
    @Inject(SNAPSHOTTER) private readonly snapshots: OpenedSnapshotter,
  ) {}

  get enabled(): boolean {
    return this.nats.connection !== null;
  }

  /** Called once the node listens (its address is known): beat first, then record the join. */
  async join(url: string): Promise<void> {
    const nc = this.nats.connection;
    if (!nc) return;
    this.address = this.config.advertiseUrl ?? url;
    this.kv = await new Kvm(nc).create(HEARTBEAT_BUCKET, { ttl: this.config.nodeTtlMs, replicas: this.config.natsReplicas, history: 1 });
    await this.beat();
    const node: NodeInfo = {
      nodeId: this.config.nodeId,
      address: this.address,
      runtime: 'runc',
      snapshotter: this.snapshots.snapshotter.name,
      capacity: this.config.capacity,
      version: STRATA_VERSION,
    };
    await this.execute('JoinNode', { node }, `join-${Date.now()}`);
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = null));
    }, this.config.heartbeatMs);
    this.timer.unref();
    this.logger.log({ msg: `joined the cluster as ${this.config.nodeId}`, address: this.address, ttlMs: this.config.nodeTtlMs });
  }

  /** Runs `listener` on the node that declared a node lost (exactly one node per loss). */
  onLost(listener: (nodeId: string, meta: CommandMeta) => Promise<void>): void {
    this.lostListeners.push(listener);
  }

  async nodes(model?: ReadModel): Promise<NodeView[]> {
    const read = model ?? this.reads.engine.readModel();
    const events = await nodeEvents(read);
    const containers = await read.listContainers(true);
    const views: NodeView[] = [];
    for (const [nodeId, list] of events) {
      const state = fold(nodeDecider, list.map((e) => e.event) as never[]);
      if (!state.info) continue;
      const heartbeat = await this.heartbeatOf(nodeId);
      const mine = containers.filter((c) => c.nodeId === nodeId && c.status !== 'removed');
      views.push({
        ...state.info,
        status: state.status === 'unknown' ? 'left' : state.status,
        joinedAt: list.findLast((e) => e.event.type === 'NodeJoined')?.occurredAt ?? null,
        lastHeartbeat: heartbeat?.at ?? null,
        alive: heartbeat !== null,
        containers: mine.length,
        running: mine.filter((c) => c.status === 'running' || c.status === 'paused').length,
      });
    }
    return views.sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  }

  async candidates(): Promise<PlacementCandidate[]> {
    await this.reads.catchUpToHead();
    return (await this.nodes()).map((n) => ({ nodeId: n.nodeId, status: n.status, alive: n.alive, capacity: n.capacity, containers: n.containers }));
  }

  private async heartbeatOf(nodeId: string): Promise<Heartbeat | null> {
    if (!this.kv) return null;
    const entry = await this.kv.get(nodeId).catch(() => null);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return null;
    return entry.json<Heartbeat>();
  }

  private async beat(): Promise<void> {
    await this.kv?.put(this.config.nodeId, JSON.stringify({ at: new Date().toISOString(), address: this.address } satisfies Heartbeat));
  }

  /** One heartbeat, then a look at the others. Errors (a NATS outage) are logged; the next tick tries again. */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.beat();
      for (const node of await this.nodes()) {
        if (node.nodeId === this.config.nodeId || node.alive) continue;
        if (node.status !== 'ready' && node.status !== 'draining') continue;
        await this.declareLost(node);
      }
    } catch (error) {
      this.logger.warn({ msg: 'cluster tick failed', error: String(error) });
    }
  }

  private async declareLost(node: NodeView): Promise<void> {
    // The same command id on every surviving node: one NodeLost, and exactly one of them is told "appended".
    const reply = await this.execute('DeclareNodeLost', { nodeId: node.nodeId, declaredBy: this.config.nodeId, lastHeartbeat: node.lastHeartbeat }, `node-lost-${node.nodeId}-${node.joinedAt}`);
    if (reply.duplicate || !reply.events.includes('NodeLost')) return;
    this.logger.warn({ msg: `node ${node.nodeId} declared lost`, lastHeartbeat: node.lastHeartbeat });
    const meta = this.meta(`failover-${node.nodeId}-${reply.position}`);
    for (const listener of this.lostListeners) await listener(node.nodeId, meta);
  }

  private execute(name: string, input: unknown, commandId: string): Promise<CommandReply> {
    return this.commandBus.execute(new ExecuteCommand(name, input, this.meta(commandId)));
  }

  private meta(commandId: string): CommandMeta {
    return { commandId, actor: `node:${this.config.nodeId}`, correlationId: commandId, causationId: null, occurredAt: new Date().toISOString(), nodeId: this.config.nodeId };
  }

  /** A clean stop: NodeLeft, and the heartbeat key removed, so nobody declares this node lost. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    if (!this.kv) return;
    try {
      await this.execute('LeaveNode', { nodeId: this.config.nodeId }, `leave-${this.config.nodeId}-${Date.now()}`);
      await this.kv.delete(this.config.nodeId);
    } catch (error) {
      this.logger.warn({ msg: 'could not record leaving the cluster', error: String(error) });
    }
  }
}

/** Every node event in the read model (the audit log), by node id, in log order. */
async function nodeEvents(model: ReadModel): Promise<Map<string, Array<{ event: NodeEvent; occurredAt: string }>>> {
  const byNode = new Map<string, Array<{ event: NodeEvent; occurredAt: string }>>();
  for (let after: number | undefined; ; ) {
    const page = await model.queryEvents({ category: 'node', after, limit: 1000 });
    for (const e of page.items) {
      const nodeId = e.streamId.slice('node-'.length);
      const list = byNode.get(nodeId) ?? [];
      list.push({ event: { type: e.type, schemaVersion: e.schemaVersion, data: e.data } as NodeEvent, occurredAt: e.occurredAt });
      byNode.set(nodeId, list);
    }
    if (page.next === null) return byNode;
    after = page.next;
  }
}
