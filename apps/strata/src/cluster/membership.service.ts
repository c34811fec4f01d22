import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { Kvm, type KV } from '@nats-io/kv';
import type { CommandReply, NodeView } from '@strata/api';
import { fold, nodeDecider, type CommandMeta, type NodeEvent, type NodeFailover, type NodeInfo } from '@strata/domain';
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

/** A failover the log says is not completed, with what a node needs to decide whether to run it. */
export interface PendingFailover extends NodeFailover {
  /** The lost node. */
  nodeId: string;
  /** Position of its NodeFailoverStarted: a stranded container started after it was started by someone else. */
  startedAt: number;
  /** When its runner was last chosen (the loss, or the last takeover). */
  since: string;
  /** Its runner still beats. */
  runnerAlive: boolean;
}

/** What the Failover does for the membership: plan a loss, run the failover of one, and look at unfinished ones every tick. */
export interface FailoverHandler {
  /** The containers a loss of `nodeId` strands, recorded with the loss (NodeFailoverStarted). */
  plan(nodeId: string): Promise<string[]>;
  /** This node declared the loss (exactly one node per loss): it runs the failover. Must not block. */
  declared(failover: PendingFailover): void;
  /** After every heartbeat: the failovers not completed, for the ones to resume or take over. */
  tick(pending: PendingFailover[]): Promise<void>;
  /** This node, declared lost while it was only cut off, is about to join again: follow what its failover did. */
  rejoining(): Promise<void>;
}

type NodeEventRow = { event: NodeEvent; occurredAt: string; position: number };

/**
 * Cluster membership (only on NATS): the node joins with NodeJoined, beats in a KV bucket with a TTL,
 * leaves with NodeLeft, and watches the others: a ready node whose key expired is declared lost, once
 * (the decider refuses a second NodeLost, and every declarer uses the same command id). What follows a
 * loss (its containers) is the Failover's business: it plans it (recorded with the loss), runs it on the
 * declarer, and is shown the unfinished failovers every tick, to resume or take over.
 */
@Injectable()
export class Membership implements OnModuleDestroy {
  private readonly logger = new Logger('cluster');
  private kv: KV | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private address = '';
  private info: NodeInfo | null = null;
  /** Declared lost while alive: said once, until it has joined again. */
  private toldLost = false;
  private stopped = false;
  private failover: FailoverHandler | null = null;

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
    this.info = node;
    await this.execute('JoinNode', { node }, `join-${Date.now()}`);
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = null));
    }, this.config.heartbeatMs);
    this.timer.unref();
    this.logger.log({ msg: `joined the cluster as ${this.config.nodeId}`, address: this.address, ttlMs: this.config.nodeTtlMs });
  }

  /** The Failover: plans and runs what follows a loss (one handler). */
  useFailover(handler: FailoverHandler): void {
    this.failover = handler;
  }

  async nodes(model?: ReadModel): Promise<NodeView[]> {
    const read = model ?? this.reads.engine.readModel();
    return this.viewsOf(read, await nodeEvents(read));
  }

  private async viewsOf(read: ReadModel, events: Map<string, NodeEventRow[]>): Promise<NodeView[]> {
    // Counted by the read model (an index scan), not listed: placement asks on every create.
    const counts = await read.containerCountsByNode();
    // One KV read per node, in parallel rather than one round trip after the other.
    const heartbeats = new Map(await Promise.all([...events.keys()].map(async (nodeId) => [nodeId, await this.heartbeatOf(nodeId)] as const)));
    const views: NodeView[] = [];
    for (const [nodeId, list] of events) {
      const state = fold(nodeDecider, list.map((e) => e.event) as never[]);
      if (!state.info) continue;
      const heartbeat = heartbeats.get(nodeId) ?? null;
      const mine = counts.get(nodeId) ?? { containers: 0, running: 0 };
      views.push({
        ...state.info,
        status: state.status === 'unknown' ? 'left' : state.status,
        joinedAt: list.findLast((e) => e.event.type === 'NodeJoined')?.occurredAt ?? null,
        lastHeartbeat: heartbeat?.at ?? null,
        alive: heartbeat !== null,
        containers: mine.containers,
        running: mine.running,
      });
    }
    return views.sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  }

  async candidates(): Promise<PlacementCandidate[]> {
    await this.reads.catchUpToHead();
    return (await this.nodes()).map((n) => ({ nodeId: n.nodeId, status: n.status, alive: n.alive, capacity: n.capacity, containers: n.containers }));
  }

  /** Failovers the log (as the read model has it) says are not completed, oldest loss first. */
  async pendingFailovers(events?: Map<string, NodeEventRow[]>): Promise<PendingFailover[]> {
    const byNode = events ?? (await nodeEvents(this.reads.engine.readModel()));
    const pending: PendingFailover[] = [];
    for (const [nodeId, list] of byNode) {
      const state = fold(nodeDecider, list.map((e) => e.event) as never[]);
      for (const f of state.failovers) {
        const mine = list.filter((e) => (e.event.type === 'NodeFailoverStarted' || e.event.type === 'NodeFailoverTakenOver') && e.event.data.failoverId === f.failoverId);
        const started = mine.find((e) => e.event.type === 'NodeFailoverStarted');
        if (!started) continue;
        pending.push({ ...f, nodeId, startedAt: started.position, since: mine.at(-1)!.occurredAt, runnerAlive: (await this.heartbeatOf(f.runner)) !== null });
      }
    }
    return pending.sort((a, b) => a.startedAt - b.startedAt);
  }

  /**
   * Takes a failover over from its runner (gone, or too slow). Every node that saw the same runner sends
   * the same command id, and the decider compares the runner: true for exactly one of them.
   */
  async takeOver(failover: PendingFailover): Promise<boolean> {
    const reply = await this.execute(
      'TakeOverNodeFailover',
      { nodeId: failover.nodeId, failoverId: failover.failoverId, from: failover.runner, by: this.config.nodeId },
      `takeover-${failover.failoverId}-${failover.takeovers + 1}`,
    );
    return !reply.duplicate && reply.events.includes('NodeFailoverTakenOver');
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

  /** One heartbeat, then a look at the others and at unfinished failovers. Errors (a NATS outage) are logged; the next tick tries again. */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.beat();
      const read = this.reads.engine.readModel();
      const events = await nodeEvents(read);
      let declared = false;
      for (const node of await this.viewsOf(read, events)) {
        if (node.nodeId === this.config.nodeId) {
          if (node.status === 'lost') await this.rejoin(events);
          continue;
        }
        if (node.alive) continue;
        if (node.status !== 'ready' && node.status !== 'draining') continue;
        await this.declareLost(node);
        declared = true;
      }
      // After a declaration the node events are read again: the new loss may strand a failover its node was running.
      if (this.failover && !this.stopped) await this.failover.tick(await this.pendingFailovers(declared ? undefined : events));
    } catch (error) {
      this.logger.warn({ msg: 'cluster tick failed', error: String(error) });
    }
  }

  /**
   * This node was declared lost while it was only cut off (its heartbeat lapsed, it kept running): once
   * the failover of that loss has completed, it does what the failover decided for its containers (the
   * removed ones stop and go; stranded-containers.ts) and joins again. Joining before the failover ends
   * would race its steps (a container restarted here while being replaced elsewhere).
   */
  private async rejoin(events: Map<string, NodeEventRow[]>): Promise<void> {
    if (!this.info) return;
    const mine = (await this.pendingFailovers(events)).filter((f) => f.nodeId === this.config.nodeId);
    if (mine.length > 0) {
      if (!this.toldLost) this.logger.warn({ msg: 'this node was declared lost while cut off: it joins again once its failover has completed', failovers: mine.map((f) => f.failoverId) });
      this.toldLost = true;
      return;
    }
    await this.failover?.rejoining();
    await this.execute('JoinNode', { node: this.info }, `rejoin-${Date.now()}`);
    this.toldLost = false;
    this.logger.warn({ msg: `joined the cluster again as ${this.config.nodeId} after being declared lost` });
  }

  private async declareLost(node: NodeView): Promise<void> {
    // The plan: what the loss strands, recorded with it, so that whoever finishes the failover works from the same list.
    const containers = this.failover ? await this.failover.plan(node.nodeId) : [];
    const failoverId = `failover-${node.nodeId}-${node.joinedAt ? Date.parse(node.joinedAt) : 0}`;
    // The same command id on every surviving node: one NodeLost, and exactly one of them is told "appended".
    const reply = await this.execute(
      'DeclareNodeLost',
      { nodeId: node.nodeId, declaredBy: this.config.nodeId, lastHeartbeat: node.lastHeartbeat, failoverId, containers },
      `node-lost-${node.nodeId}-${node.joinedAt}`,
    );
    if (reply.duplicate || !reply.events.includes('NodeLost')) return;
    this.logger.warn({ msg: `node ${node.nodeId} declared lost`, lastHeartbeat: node.lastHeartbeat, failover: failoverId, containers: containers.length });
    this.failover?.declared({
      nodeId: node.nodeId,
      failoverId,
      containers,
      runner: this.config.nodeId,
      takeovers: 0,
      startedAt: reply.position, // the last event of the append: NodeFailoverStarted
      since: new Date().toISOString(),
      runnerAlive: true,
    });
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
async function nodeEvents(model: ReadModel): Promise<Map<string, NodeEventRow[]>> {
  const byNode = new Map<string, NodeEventRow[]>();
  for (let after: number | undefined; ; ) {
    const page = await model.queryEvents({ category: 'node', after, limit: 1000 });
    for (const e of page.items) {
      const nodeId = e.streamId.slice('node-'.length);
      const list = byNode.get(nodeId) ?? [];
      list.push({ event: { type: e.type, schemaVersion: e.schemaVersion, data: e.data } as NodeEvent, occurredAt: e.occurredAt, position: e.position });
      byNode.set(nodeId, list);
    }
    if (page.next === null) return byNode;
    after = page.next;
  }
}
