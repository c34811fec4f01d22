import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { ContainerView } from '@strata/api';
import { conflict, invalid, type CommandMeta, type ContainerState, type ExitReason } from '@strata/domain';
import type { ExitStatus, Runtime } from '@strata/runtime';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandSteps } from '../commands/command-steps.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ReadModels } from '../projections/read-models.service.js';
import { ContainerFiles } from './container-files.js';
import { ContainerResolver } from './container-resolver.js';
import { ContainerRootfs } from './container-rootfs.js';
import { RUNTIME } from './runtime-token.js';
import { resolveUser } from './user-lookup.js';

/**
 * The processes of this node's containers: starting them under the runtime, watching them exit,
 * recording how (after the writable layer's changes), restarting them by policy, and on start-up
 * reconciling what the log says runs with what really runs. The one writer of ContainerExited.
 */
@Injectable()
export class ContainerProcesses implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('containers');
  /** Why a process is about to end, when the node itself ends it (stop, kill). */
  private readonly intents = new Map<string, ExitReason>();
  /** Resolves once the running process's exit is in the log. */
  private readonly exits = new Map<string, Promise<void>>();
  private closing = false;

  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly rootfs: ContainerRootfs,
    private readonly resolver: ContainerResolver,
    private readonly steps: CommandSteps,
    private readonly files: ContainerFiles,
    private readonly reads: ReadModels,
  ) {}

  /** Mounts the root filesystem, starts the process, records ContainerStarted, and watches it. */
  async launch(container: ContainerView, meta: CommandMeta, restart: boolean): Promise<number> {
    const available = await this.runtime.available();
    if (!available.ok) throw conflict('RUNTIME_UNAVAILABLE', `cannot start containers on this node: ${available.reason}`);
    const root = await this.rootfs.mount(container.id);
    const c = container.config;
    const { pid } = await this.startProcess(
      {
        id: container.id,
        rootfs: root,
        hostname: c.hostname,
        process: { args: [...(c.entrypoint ?? []), ...(c.cmd ?? [])], env: c.env, cwd: c.workingDir, user: await resolveUser(root, c.user) },
      },
    );
    this.intents.delete(container.id);
    const reply = await this.steps.run(meta, restart ? 'restart' : 'start', 'StartContainer', { id: container.id, pid, restart });
    this.watch(container.id, reply.position);
    return reply.position;
  }

  /** The runtime's start; a process that cannot start (no such command…) is the caller's error, said plainly. */
  private async startProcess(spec: Parameters<Runtime['start']>[0]): Promise<{ pid: number }> {
    try {
      return await this.runtime.start(spec);
    } catch (error) {
      await this.rootfs.unmount(spec.id).catch(() => undefined);
      if ((error as { code?: string }).code === 'START_FAILED') {
        throw invalid('CONTAINER_START_FAILED', `${(error as Error).message.replace(/^the container did not start: /, 'the container did not start: ')}`, { container: spec.id });
      }
      throw error;
    }
  }

  /** Ends the process the way `stop` does (TERM, then KILL after the timeout) and waits for its record. */
  async stop(id: string, timeoutSeconds: number, reason: ExitReason = 'stopped'): Promise<void> {
    this.intents.set(id, reason);
    const recorded = this.exits.get(id);
    if ((await this.runtime.state(id)) === 'paused') await this.runtime.resume(id);
    await this.runtime.stop(id, timeoutSeconds * 1000);
    await recorded;
  }

  async kill(id: string, signal: string): Promise<void> {
    if (/^(SIG)?(KILL|TERM|INT|QUIT)$/.test(signal)) this.intents.set(id, 'killed');
    await this.runtime.kill(id, signal.replace(/^SIG/, ''));
  }

  /** Resolves when the container's current process (if any) has its exit in the log. */
  async exited(id: string): Promise<void> {
    await this.exits.get(id);
  }

  private watch(id: string, startPosition: number): void {
    const done = this.runtime
      .wait(id)
      .then((status) => this.recordExit(id, startPosition, status))
      .catch((error) => this.logger.error({ msg: 'watching a container failed', container: id, error: String(error) }))
      .finally(() => {
        if (this.exits.get(id) === done) this.exits.delete(id);
      });
    this.exits.set(id, done);
  }

  private meta(step: string): CommandMeta {
    return { commandId: step, actor: `node:${this.config.nodeId}`, correlationId: step, causationId: null, occurredAt: new Date().toISOString(), nodeId: this.config.nodeId };
  }

  /** The writable layer's changes first, then the exit: deterministic ids, so a repeat records nothing twice. */
  private async recordExit(id: string, startPosition: number, status: ExitStatus): Promise<void> {
    if (this.closing) return; // a node going down leaves its containers running; the next start reconciles
    const base = `exit-${id.slice(0, 16)}-${startPosition}`;
    const changes = await this.files.unrecorded(id).catch(() => []);
    if (changes.length > 0) await this.steps.run(this.meta(base), 'files', 'RecordFilesChanged', { id, source: 'process', changes });
    const reason = status.reason === 'oom' ? 'oom' : (this.intents.get(id) ?? status.reason);
    this.intents.delete(id);
    await this.steps.run(this.meta(base), 'exit', 'RecordContainerExit', {
      id, exitCode: status.exitCode, reason, signal: status.signal, oomKilled: status.oomKilled, error: null,
    });
    await this.runtime.delete(id).catch(() => undefined);
    await this.rootfs.unmount(id).catch(() => undefined);
    await this.restartByPolicy(id, status.exitCode, reason, startPosition);
  }

  /** Docker's restart policies, with its back-off: 100 ms doubling per restart, at most a minute. */
  private async restartByPolicy(id: string, exitCode: number, reason: ExitReason, startPosition: number): Promise<void> {
    const { state } = await this.resolver.state(id);
    if (!wantsRestart(state, exitCode, reason) || this.closing) return;
    await sleep(Math.min(100 * 2 ** state.restartCount, 60_000));
    if (this.closing) return;
    const { state: now } = await this.resolver.state(id);
    if (now.status !== 'exited') return; // started, removed or restarted by someone meanwhile
    await this.reads.catchUpToHead();
    const view = await this.reads.engine.getContainer(id);
    if (!view) return;
    try {
      await this.launch(view, this.meta(`restart-${id.slice(0, 16)}-${startPosition}`), true);
    } catch (error) {
      this.logger.error({ msg: 'restart by policy failed', container: id, error: String(error) });
    }
  }

  /** After a restart of the node: re-attach to what still runs, record what ended while it was down. */
  async onApplicationBootstrap(): Promise<void> {
    await this.reads.catchUpToHead();
    const mine = (await this.reads.engine.listContainers(false)).filter((c) => c.nodeId === this.config.nodeId);
    if (mine.length === 0) return;
    const available = await this.runtime.available();
    const found = available.ok ? await this.runtime.reconcile(mine.map((c) => c.id)) : new Map();
    for (const c of mine) {
      const seen = found.get(c.id) ?? { state: 'gone' as const };
      const startPosition = await this.lastStartPosition(c.id);
      if (seen.state === 'running' || seen.state === 'paused') {
        this.logger.log({ msg: 'container still running: re-attached', container: c.id, name: c.name });
        this.watch(c.id, startPosition);
        continue;
      }
      const status: ExitStatus = seen.state === 'exited'
        ? seen.status
        : { exitCode: 255, signal: null, oomKilled: false, finishedAt: new Date().toISOString(), reason: 'error' };
      if (seen.state === 'gone') this.intents.set(c.id, 'node-restart');
      this.logger.log({ msg: 'container ended while the node was down', container: c.id, name: c.name, state: seen.state });
      await this.recordExit(c.id, startPosition, status).catch((error) =>
        this.logger.error({ msg: 'recording an exit found at start-up failed', container: c.id, error: String(error) }),
      );
    }
  }

  onApplicationShutdown(): void {
    this.closing = true;
    this.runtime.close(); // ends the waits; the containers run on, and the next start re-attaches
  }

  /** The position of the container's last ContainerStarted: the key of its current run's exit record. */
  private async lastStartPosition(id: string): Promise<number> {
    const events = await this.reads.engine.queryEvents({ stream: `container-${id}`, types: ['ContainerStarted'], limit: 10_000 });
    return events.items.at(-1)?.position ?? 0;
  }
}

function wantsRestart(state: ContainerState, exitCode: number, reason: ExitReason): boolean {
  if (state.status !== 'exited' || reason === 'stopped' || reason === 'killed') return false;
  const policy = state.restartPolicy;
  switch (policy.name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (policy.maximumRetryCount === 0 || state.restartCount < policy.maximumRetryCount);
    default:
      return false;
  }
}

