import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { ContainerReply, CreateContainerRequest } from '@strata/api';
import {
  containerDecider,
  containerStreamId,
  DomainError,
  fold,
  formatRestartPolicy,
  nodeDecider,
  nodeStreamId,
  type CommandMeta,
  type ContainerCreatedData,
  type ContainerState,
  type NodeFailoverOutcome,
  type NodeStatus,
  type RestartPolicy,
} from '@strata/domain';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import { CommandSteps } from '../commands/command-steps.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ContainersService, containerIdFor } from '../containers/containers.service.js';
import { ApiError } from '../http/api-error.js';
import { ReadModels } from '../projections/read-models.service.js';
import { Membership, type PendingFailover } from './membership.service.js';
import { NodeRouter } from './node-router.js';
import { Placement } from './placement.service.js';

/** Label on a replacement container: the container (on a lost node) it replaces. */
export const RESCHEDULED_FROM = 'strata.rescheduled-from';

/**
 * TEST-ONLY fault hook, never to be set outside the tests: `STRATA_TEST_FAILOVER_CRASH_AFTER=exit|remove|create`
 * makes the node that declared a loss SIGKILL itself in that failover right after its first recorded
 * exit, its first RemoveContainer, or its first replacement created (before it is started), so that a
 * test can see another node take the failover over. It fires only in the run of the declarer, never in
 * a resumed or taken-over run. test/cluster-takeover.e2e.spec.ts sets it.
 */
const CRASH_AFTER = process.env.STRATA_TEST_FAILOVER_CRASH_AFTER;

/** Replacements in a row that may be stranded with their own node before the failover gives up on a container. */
const MAX_GENERATIONS = 5;

type Run = 'declared' | 'resumed' | 'taken over';

/** A container as its stream in the log has it (the read models drop removed containers; a failover needs them). */
interface ContainerRecord {
  created: ContainerCreatedData | null;
  state: ContainerState;
  /** Its ContainerStarted events' positions. */
  starts: number[];
}

/**
 * What follows the loss of a node. The declarer records the plan with the loss (`NodeFailoverStarted`:
 * the node's running and paused containers then) and runs it: each one is recorded as exited
 * (`node-lost`; exit code 137, as after SIGKILL), and those whose restart policy would restart them are
 * rescheduled: the old record is removed (its writable layer is gone with the node), and a new
 * container with the same name, image and config is placed on a ready node and started. The end is
 * recorded too (`NodeFailoverCompleted`), so a failover is unfinished exactly when the log has its start
 * and not its end.
 *
 * Every step has a command id derived from the failover id, and every decision is taken again from the
 * log's state (an exit already recorded is not recorded again, a removed container is not removed
 * again), so running a failover twice, or two nodes running it at once, does each thing once. The
 * replacement's id derives from its create's command id: however often, and wherever, that create
 * runs, there is one replacement. A replacement stranded before it started (its node lost too) is
 * removed and replaced in turn.
 *
 * Who finishes an unfinished failover: its runner (the declarer, or the last node to take it over)
 * resumes it after a restart and retries it after a step failed for a passing reason (a node not
 * answering); any other node takes it over (`NodeFailoverTakenOver`, a compare-and-set on the runner:
 * one node wins) once the runner stopped beating, or when it has stayed unfinished past a bound. The
 * takeover keeps two nodes from working on it at once most of the time; correctness does not rest on it.
 */
@Injectable()
export class Failover implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('cluster');
  /** Failovers this process is running now, by id. */
  private readonly running = new Map<string, Promise<void>>();
  /** When this process last ran each failover (for the retry delay). */
  private readonly lastRun = new Map<string, number>();
  private closing = false;
  /** A failover of this node's that did not finish is tried again after this long. */
  private readonly retryMs: number;
  /** A failover unfinished for this long since its runner was chosen is taken over even from a runner that still beats. */
  readonly takeoverAfterMs: number;

  constructor(
    private readonly membership: Membership,
    private readonly reads: ReadModels,
    private readonly steps: CommandSteps,
    private readonly placement: Placement,
    private readonly router: NodeRouter,
    private readonly containers: ContainersService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {
    this.retryMs = Math.max(5_000, 2 * config.nodeTtlMs);
    this.takeoverAfterMs = Math.max(60_000, 30 * config.nodeTtlMs);
  }

  onModuleInit(): void {
    this.membership.useFailover({
      plan: (nodeId) => this.plan(nodeId),
      declared: (failover) => this.launch(failover, 'declared'),
      tick: (pending) => this.adopt(pending),
      // Declared lost while only cut off: what the failover decided for its containers is done here first.
      rejoining: async () => void (await this.containers.sweepStranded()),
    });
  }

  onModuleDestroy(): void {
    this.closing = true; // runs under way stop before their next container; the failover stays unfinished for later
  }

  /** The containers a loss strands: those running or paused on the node. */
  private async plan(nodeId: string): Promise<string[]> {
    await this.reads.catchUpToHead();
    return (await this.reads.engine.listContainers(false)).filter((c) => c.nodeId === nodeId).map((c) => c.id);
  }

  /** Every tick: resume this node's unfinished failovers, take over those whose runner is gone or too slow. */
  private async adopt(pending: PendingFailover[]): Promise<void> {
    const me = this.config.nodeId;
    for (const failover of pending) {
      if (this.closing) return;
      if (this.running.has(failover.failoverId)) continue;
      if (failover.runner === me) {
        // Ours and not running here: left by this node before it restarted, or an attempt that did not finish.
        if (Date.now() - (this.lastRun.get(failover.failoverId) ?? 0) >= this.retryMs) this.launch(failover, 'resumed');
        continue;
      }
      const overdue = Date.now() - Date.parse(failover.since) > this.takeoverAfterMs;
      if (failover.runnerAlive && !overdue) continue;
      if (await this.membership.takeOver(failover)) {
        this.logger.warn({ msg: `taking over the failover of ${failover.nodeId} from ${failover.runner}`, failover: failover.failoverId, runnerAlive: failover.runnerAlive });
        this.launch({ ...failover, runner: me, takeovers: failover.takeovers + 1 }, 'taken over');
      }
    }
  }

  /** Runs a failover in the background (the heartbeat must go on meanwhile); one run per failover in this process. */
  private launch(failover: PendingFailover, how: Run): void {
    if (this.closing || this.running.has(failover.failoverId)) return;
    this.lastRun.set(failover.failoverId, Date.now());
    const run = this.failOver(failover, how)
      .then(
        () => undefined,
        (error: unknown) => this.logger.error({ msg: `failover of ${failover.nodeId} stopped; it is tried again later`, failover: failover.failoverId, error: String(error) }),
      )
      .finally(() => {
        this.running.delete(failover.failoverId);
        this.lastRun.set(failover.failoverId, Date.now());
      });
    this.running.set(failover.failoverId, run);
  }

  /** Runs (or finishes) one failover; true once its completion is recorded. */
  async failOver(failover: PendingFailover, how: Run): Promise<boolean> {
    const me = this.config.nodeId;
    if (how !== 'declared') {
      // The read model that listed it may lag: the log says whether it is still to do, and by whom.
      const node = fold(nodeDecider, (await this.store.readStream(nodeStreamId(failover.nodeId))) as never[]);
      const now = node.failovers.find((f) => f.failoverId === failover.failoverId);
      if (!now || now.runner !== me) return false;
      this.logger.warn({ msg: `failover of ${failover.nodeId} ${how}`, failover: failover.failoverId, containers: failover.containers.length });
    }
    const meta = this.meta(failover.failoverId);
    const outcome: NodeFailoverOutcome = { rescheduled: [], failed: [] };
    let unfinished = 0;
    for (const id of failover.containers) {
      if (this.closing) return false;
      try {
        const replacement = await this.recover(id, failover, meta, how);
        if (replacement) outcome.rescheduled.push({ from: id, to: replacement });
      } catch (error) {
        const passing = isPassing(error);
        if (passing) unfinished++;
        else outcome.failed.push({ container: id, code: codeOf(error) });
        this.logger.error({ msg: 'failover of a container failed', container: id, node: failover.nodeId, error: String(error), triedAgain: passing });
      }
    }
    if (unfinished > 0) {
      this.logger.warn({ msg: `failover of ${failover.nodeId} unfinished: tried again later`, failover: failover.failoverId, unfinished });
      return false;
    }
    await this.steps.run(meta, 'complete', 'CompleteNodeFailover', { nodeId: failover.nodeId, failoverId: failover.failoverId, completedBy: me, ...outcome });
    this.logger.log({ msg: `failover of ${failover.nodeId} done`, failover: failover.failoverId, containers: failover.containers.length, rescheduled: outcome.rescheduled.length, failed: outcome.failed.length });
    return true;
  }

  /** One stranded container: its exit recorded and, if its policy restarts it, a replacement started. Returns the replacement's id. */
  private async recover(id: string, failover: PendingFailover, meta: CommandMeta, how: Run): Promise<string | null> {
    const old = await this.record(id);
    if (!old.created) return null;
    // Started again after the loss (its node came back and restarted it): it is not stranded any more.
    if (old.starts.some((position) => position > failover.startedAt)) return null;
    await this.steps.run(meta, `exit-${id}`, 'RecordContainerExit', {
      id,
      exitCode: 137,
      reason: 'node-lost',
      signal: null,
      oomKilled: false,
      error: `node ${failover.nodeId} was lost`,
    });
    this.crashPoint('exit', how);
    if (!restarts(old.created.restartPolicy)) return null;
    const name = old.state.name ?? old.created.name;
    if ((await this.record(id)).state.status !== 'removed') await this.steps.run(meta, `remove-${id}`, 'RemoveContainer', { id });
    this.crashPoint('remove', how);
    await this.steps.run(meta, `release-${id}`, 'ReleaseContainerName', { name, containerId: id });
    return this.replace(old.created, name, meta, how);
  }

  /**
   * Creates (once) and starts (once) the replacement of `source`. A replacement created on a node lost
   * before it was started is removed and replaced in turn, its own replacement's ids derived from it.
   */
  private async replace(first: ContainerCreatedData, firstName: string, meta: CommandMeta, how: Run): Promise<string> {
    let source = first;
    let name = firstName;
    for (let generation = 0; generation < MAX_GENERATIONS; generation++) {
      const create = this.step(meta, `create-${source.id}`);
      const id = containerIdFor(create.commandId);
      let replacement = await this.record(id);
      if (!replacement.created) {
        await this.placement.create(requestFrom(source, name), create);
        replacement = await this.record(id);
        this.crashPoint('create', how);
      }
      const made = replacement.created;
      if (!made) throw new Error(`the replacement ${id} of ${source.id} was created but is not in the log`);
      // Given up on by an earlier run (removed by this failover), or stranded now: created, never started, on a node that is gone.
      const abandoned = replacement.state.status === 'removed' && (await this.steps.done(meta, `remove-${id}`)) !== null;
      const owner = await this.nodeStatus(made.nodeId);
      const stranded = replacement.state.status === 'created' && (owner === 'lost' || owner === 'left');
      if (abandoned || stranded) {
        this.logger.warn({ msg: `replacement ${id} of ${source.id} stranded on ${made.nodeId}: replacing it`, node: made.nodeId });
        if (replacement.state.status !== 'removed') await this.steps.run(meta, `remove-${id}`, 'RemoveContainer', { id });
        name = replacement.state.name ?? made.name;
        await this.steps.run(meta, `release-${id}`, 'ReleaseContainerName', { name, containerId: id });
        source = made;
        continue;
      }
      // Only a replacement never started is started: one that ran and stopped, or was removed by someone, is left as it is.
      if (replacement.state.status === 'created') {
        const start = this.step(meta, `start-${source.id}`);
        if (made.nodeId === this.config.nodeId) await this.containers.start(id, start);
        else await this.router.forward<ContainerReply>(made.nodeId, 'StartContainer', { container: id }, start);
      }
      this.logger.log({ msg: `rescheduled ${name}`, from: first.id, to: id, node: made.nodeId });
      return id;
    }
    throw new DomainError('conflict', 'FAILOVER_GAVE_UP', `${MAX_GENERATIONS} replacements of ${first.id} in a row were stranded with their nodes`);
  }

  private async record(id: string): Promise<ContainerRecord> {
    const events = await this.store.readStream(containerStreamId(id));
    const created = events.find((e) => e.type === 'ContainerCreated');
    return {
      created: created ? (created.data as ContainerCreatedData) : null,
      state: fold(containerDecider, events as never[]),
      starts: events.filter((e) => e.type === 'ContainerStarted').map((e) => e.position),
    };
  }

  private async nodeStatus(nodeId: string): Promise<NodeStatus> {
    return fold(nodeDecider, (await this.store.readStream(nodeStreamId(nodeId))) as never[]).status;
  }

  /** See CRASH_AFTER: test-only. */
  private crashPoint(step: 'exit' | 'remove' | 'create', how: Run): void {
    if (CRASH_AFTER !== step || how !== 'declared') return;
    this.logger.warn({ msg: `STRATA_TEST_FAILOVER_CRASH_AFTER=${step}: killing this node in the middle of a failover (test-only)` });
    process.kill(process.pid, 'SIGKILL');
  }

  private meta(commandId: string): CommandMeta {
    return { commandId, actor: `node:${this.config.nodeId}`, correlationId: commandId, causationId: null, occurredAt: new Date().toISOString(), nodeId: this.config.nodeId };
  }

  private step(meta: CommandMeta, name: string): CommandMeta {
    return { ...meta, commandId: `${meta.commandId}/${name}`, causationId: meta.commandId, occurredAt: new Date().toISOString() };
  }
}

/** The replacement's request: the same name, image, config and policy, labelled with the container it replaces. */
function requestFrom(c: ContainerCreatedData, name: string): CreateContainerRequest {
  return {
    image: c.image.manifestDigest,
    name,
    cmd: c.config.cmd ?? undefined,
    entrypoint: c.config.entrypoint ?? undefined,
    env: c.config.env,
    workingDir: c.config.workingDir,
    user: c.config.user,
    labels: { ...c.config.labels, [RESCHEDULED_FROM]: c.id },
    hostname: c.config.hostname,
    restart: formatRestartPolicy(c.restartPolicy),
    stopSignal: c.config.stopSignal,
    stopTimeout: c.config.stopTimeoutSeconds,
  };
}

/** Would Docker restart it after this exit? (`on-failure`: yes, 137 is a failure.) */
function restarts(policy: RestartPolicy): boolean {
  return policy.name !== 'no';
}

/**
 * Worth trying again later: a node or the log not answering (5xx), or anything that is not a refusal.
 * A refusal (a domain error, a 4xx from the node that performs it) would be refused again: given up on.
 */
function isPassing(error: unknown): boolean {
  if (error instanceof DomainError) return false;
  if (error instanceof ApiError) return error.status >= 500;
  return true;
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code.slice(0, 100) : 'ERROR';
}
