import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { CommandReply, ContainerReply, ContainerView, CreateContainerRequest, DiffEntryView, ExecReply, ExecRequest, LogLineView, TopReply, WaitReply } from '@strata/api';
import {
  assertContainerName,
  assertTransition,
  conflict,
  DomainError,
  invalid,
  mergeRunConfig,
  parseRestartPolicy,
  type CommandMeta,
  type ContainerCreatedData,
} from '@strata/domain';
import { unpackImage, type ContentStore, type OpenedSnapshotter } from '@strata/layers';
import type { Runtime } from '@strata/runtime';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandSteps, lastPosition } from '../commands/command-steps.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ImageResolver } from '../images/image-resolver.js';
import { CONTENT_STORE, SNAPSHOTTER } from '../images/layer-tokens.js';
import { ContainerFiles } from './container-files.js';
import { ContainerProcesses } from './container-processes.js';
import { ContainerResolver } from './container-resolver.js';
import { ContainerRootfs, snapshotKeyOf } from './container-rootfs.js';
import { containerNameFor, NAME_CANDIDATES } from './names-generator.js';
import { RUNTIME } from './runtime-token.js';
import { sweepStrandedContainers, type StrandedAction } from './stranded-containers.js';
import { resolveUser } from './user-lookup.js';

/**
 * What users do to containers, with Docker's rules: check the transition against the log's state,
 * perform the side effect (snapshotter, runc), record what happened. Each answer is the container as
 * the read models show it right after.
 */
@Injectable()
export class ContainersService implements OnApplicationBootstrap {
  private readonly verbLocks = new Map<string, Promise<void>>();
  private readonly logger = new Logger('containers');

  constructor(
    private readonly resolver: ContainerResolver,
    private readonly images: ImageResolver,
    private readonly processes: ContainerProcesses,
    private readonly rootfs: ContainerRootfs,
    private readonly files: ContainerFiles,
    private readonly steps: CommandSteps,
    @Inject(SNAPSHOTTER) private readonly snapshots: OpenedSnapshotter,
    @Inject(CONTENT_STORE) private readonly content: ContentStore,
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  /** At start-up, this node's container layers and processes are brought in line with the log. */
  async onApplicationBootstrap(): Promise<void> {
    await this.sweepStranded().catch((error: unknown) => this.logger.error({ msg: 'checking container layers against the log failed', error: String(error) }));
  }

  /** Brings this node's container layers and processes in line with the log (stranded-containers.ts). */
  sweepStranded(): Promise<Map<string, StrandedAction>> {
    return sweepStrandedContainers({
      snapshotter: this.snapshots.snapshotter,
      runtime: this.runtime,
      nodeId: this.config.nodeId,
      state: async (id) => (await this.resolver.state(id)).state,
      removeRootfs: (id) => this.rootfs.removeAll(id),
      serialized: (id, work) => this.serializedId(id, work),
      log: (entry) => this.logger.warn(entry),
    });
  }

  /**
   * `docker create`: reserve the name, unpack the image, prepare the writable layer, record it. The
   * container's id derives from the command id, so running the same create again (a retried request,
   * a failover re-run by the node that took it over, on this node or another) finds the container the
   * first run recorded and answers with it instead of making a second one.
   */
  async create(request: CreateContainerRequest, meta: CommandMeta): Promise<ContainerReply> {
    const id = containerIdFor(meta.commandId);
    return this.serializedId(id, async () => (await this.createdBefore(meta)) ?? this.createNow(id, request, meta));
  }

  /** The container an earlier run of this create recorded (on any node), or null if none did. */
  async createdBefore(meta: CommandMeta): Promise<ContainerReply | null> {
    const id = containerIdFor(meta.commandId);
    const { state } = await this.resolver.state(id);
    if (state.status === 'none') return null;
    if (state.status === 'removed') {
      throw conflict('CONTAINER_REMOVED', `this create (command ${meta.commandId}) was done before, and its container ${id.slice(0, 12)} has been removed since`, { container: id });
    }
    const view = await this.resolver.resolve(id);
    return { container: view, commands: [], position: view.position };
  }

  private async createNow(id: string, request: CreateContainerRequest, meta: CommandMeta): Promise<ContainerReply> {
    const image = await this.images.resolve(request.image);
    const named = request.name !== undefined;
    let candidate = 0;
    let name = named ? assertContainerName(request.name!) : containerNameFor(id);
    const restartPolicy = parseRestartPolicy(request.restart);
    const config = mergeRunConfig(
      image.config,
      {
        cmd: request.cmd, entrypoint: request.entrypoint, env: request.env, workingDir: request.workingDir, user: request.user,
        labels: request.labels, hostname: request.hostname, stopSignal: request.stopSignal, stopTimeoutSeconds: request.stopTimeout,
      },
      { hostname: id.slice(0, 12) },
    );
    // An earlier run of this command that failed gave its name back (release-name); this run reserves it
    // again under the next step id, since the first reservation's id is answered from the log.
    let attempt = 0;
    let reserved: CommandReply;
    for (;;) {
      try {
        reserved = await this.steps.run(meta, nameStep('reserve-name', candidate, attempt), 'ReserveContainerName', { name, containerId: id });
      } catch (error) {
        // An unnamed create whose drawn name another container holds draws the next one (the same sequence on every run).
        if (named || !(error instanceof DomainError) || error.code !== 'CONTAINER_NAME_IN_USE' || candidate + 1 >= NAME_CANDIDATES) throw error;
        candidate++;
        name = containerNameFor(id, candidate);
        attempt = 0;
        continue;
      }
      if (!reserved.duplicate || !(await this.steps.done(meta, nameStep('release-name', candidate, attempt)))) break;
      attempt++;
    }
    const commands: CommandReply[] = [reserved];
    const snapshotter = this.snapshots.snapshotter;
    try {
      const topChainId = await unpackImage(
        this.content,
        snapshotter,
        image.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, chainId: l.chainId })),
        { maxUncompressedBytes: this.config.maxLayerBytes, setuid: this.config.setuid },
      );
      // A writable layer under this id can only be left by an earlier run of this create that died before recording it.
      await snapshotter.remove(snapshotKeyOf(id)).catch(() => undefined);
      await snapshotter.prepare(snapshotKeyOf(id), await this.initLayer(topChainId));
      const container: ContainerCreatedData = {
        id,
        name,
        image: { manifestDigest: image.manifestDigest, imageId: image.imageId, reference: request.image, topChainId: topChainId ?? null },
        config,
        restartPolicy,
        nodeId: this.config.nodeId,
        snapshotter: snapshotter.name,
      };
      commands.push(await this.steps.run(meta, 'create', 'CreateContainer', { container }));
    } catch (error) {
      // Another run of the same command recorded the container first (on another node: its layer is there, not here).
      const { state } = await this.resolver.state(id).catch(() => ({ state: null }));
      if (state && state.status !== 'none') {
        if (state.nodeId !== this.config.nodeId) await snapshotter.remove(snapshotKeyOf(id)).catch(() => undefined);
        const earlier = await this.createdBefore(meta);
        if (earlier) return earlier;
      }
      // Nothing half-made stays behind: the writable layer and the name go again.
      await snapshotter.remove(snapshotKeyOf(id)).catch(() => undefined);
      await this.steps.run(meta, nameStep('release-name', candidate, attempt), 'ReleaseContainerName', { name, containerId: id }).catch(() => undefined);
      throw error;
    }
    return this.answer(id, commands);
  }

  private async startNow(ref: string, meta: CommandMeta): Promise<ContainerReply> {
    const c = await this.owned(ref);
    // A start run again with the same command id (a retried request, a failover taken over) launches nothing twice.
    const done = await this.steps.done(meta, 'start');
    if (done) return this.answer(c.id, [done]);
    assertTransition((await this.resolver.state(c.id)).state, 'start', ref);
    const position = await this.processes.launch(c, meta, false);
    return this.answerAt(c.id, position);
  }

  /** `docker stop`: SIGTERM (the container's stop signal), then SIGKILL after the timeout. A stopped container is left as it is. */
  private async stopNow(ref: string, timeoutSeconds: number | undefined, meta: CommandMeta): Promise<ContainerReply> {
    void meta;
    const c = await this.owned(ref);
    const { state } = await this.resolver.state(c.id);
    assertTransition(state, 'stop', ref);
    if (state.status === 'running' || state.status === 'paused') await this.processes.stop(c.id, timeoutSeconds ?? c.config.stopTimeoutSeconds);
    return this.answer(c.id, []);
  }

  private async killNow(ref: string, signal: string, meta: CommandMeta): Promise<ContainerReply> {
    const normalized = normalizeSignal(signal); // the input first, then the state
    const c = await this.owned(ref);
    assertTransition((await this.resolver.state(c.id)).state, 'kill', ref);
    const reply = await this.steps.run(meta, 'kill', 'KillContainer', { id: c.id, signal: normalized });
    await this.processes.kill(c.id, normalized);
    if (normalized === 'SIGKILL') await this.processes.exited(c.id);
    return this.answer(c.id, [reply]);
  }

  private async pauseNow(ref: string, meta: CommandMeta): Promise<ContainerReply> {
    const c = await this.owned(ref);
    assertTransition((await this.resolver.state(c.id)).state, 'pause', ref);
    await this.runtime.pause(c.id);
    const commands = [await this.steps.run(meta, 'pause', 'PauseContainer', { id: c.id })];
    // A paused process cannot write: a good moment to record what it changed so far.
    const changes = await this.files.unrecorded(c.id);
    if (changes.length > 0) commands.push(await this.steps.run(meta, 'files', 'RecordFilesChanged', { id: c.id, source: 'process', changes }));
    return this.answer(c.id, commands);
  }

  private async unpauseNow(ref: string, meta: CommandMeta): Promise<ContainerReply> {
    const c = await this.owned(ref);
    assertTransition((await this.resolver.state(c.id)).state, 'unpause', ref);
    await this.runtime.resume(c.id);
    return this.answer(c.id, [await this.steps.run(meta, 'unpause', 'UnpauseContainer', { id: c.id })]);
  }

  private async restartNow(ref: string, timeoutSeconds: number | undefined, meta: CommandMeta): Promise<ContainerReply> {
    const c = await this.owned(ref);
    const { state } = await this.resolver.state(c.id);
    assertTransition(state, 'restart', ref);
    if (state.status === 'running' || state.status === 'paused') await this.processes.stop(c.id, timeoutSeconds ?? c.config.stopTimeoutSeconds);
    const position = await this.processes.launch(c, meta, false);
    return this.answerAt(c.id, position);
  }

  private async renameNow(ref: string, name: string, meta: CommandMeta): Promise<ContainerReply> {
    const c = await this.resolver.resolve(ref);
    const { state } = await this.resolver.state(c.id);
    assertTransition(state, 'rename', ref);
    const to = assertContainerName(name);
    if (to === state.name) return this.answer(c.id, []);
    const commands = [await this.steps.run(meta, 'reserve-name', 'ReserveContainerName', { name: to, containerId: c.id })];
    commands.push(await this.steps.run(meta, 'rename', 'RenameContainer', { id: c.id, name: to }));
    commands.push(await this.steps.run(meta, 'release-name', 'ReleaseContainerName', { name: state.name!, containerId: c.id }));
    return this.answer(c.id, commands);
  }

  /** `docker rm [-f]`: refused while running unless forced (which kills first); the writable layer goes too. */
  private async removeNow(ref: string, force: boolean, meta: CommandMeta): Promise<ContainerReply> {
    const c = await this.owned(ref);
    const { state } = await this.resolver.state(c.id);
    if ((state.status === 'running' || state.status === 'paused') && force) {
      await this.processes.stop(c.id, 0, 'killed');
    } else {
      assertTransition(state, 'remove', ref);
    }
    await this.runtime.forget(c.id).catch(() => undefined);
    await this.rootfs.removeAll(c.id);
    await this.snapshots.snapshotter.remove(snapshotKeyOf(c.id)).catch((error: { code?: string }) => {
      if (error?.code !== 'SNAPSHOT_NOT_FOUND') throw error;
    });
    const commands = [await this.steps.run(meta, 'remove', 'RemoveContainer', { id: c.id })];
    commands.push(await this.steps.run(meta, 'release-name', 'ReleaseContainerName', { name: state.name!, containerId: c.id }));
    return { container: { ...c, status: 'removed' }, commands, position: lastPosition(commands) };
  }

  // ---- one verb at a time per container ---------------------------------------------------------------
  //
  // Like Docker's container lock: two verbs on one container (a pause racing a kill, from three nodes at
  // once) run one after the other, each against the state the previous one left, so a race ends as a
  // clean 409 instead of runc failing half-way.

  start(ref: string, meta: CommandMeta): Promise<ContainerReply> {
    return this.serialized(ref, () => this.startNow(ref, meta));
  }

  stop(ref: string, timeoutSeconds: number | undefined, meta: CommandMeta): Promise<ContainerReply> {
    return this.serialized(ref, () => this.stopNow(ref, timeoutSeconds, meta));
  }

  kill(ref: string, signal: string, meta: CommandMeta): Promise<ContainerReply> {
    return this.serialized(ref, () => this.killNow(ref, signal, meta));
  }

  pause(ref: string, meta: CommandMeta): Promise<ContainerReply> {
    return this.serialized(ref, () => this.pauseNow(ref, meta));
  }

  unpause(ref: string, meta: CommandMeta): Promise<ContainerReply> {
    return this.serialized(ref, () => this.unpauseNow(ref, meta));
  }

  restart(ref: string, timeoutSeconds: number | undefined, meta: CommandMeta): Promise<ContainerReply> {
    return this.serialized(ref, () => this.restartNow(ref, timeoutSeconds, meta));
  }

  rename(ref: string, name: string, meta: CommandMeta): Promise<ContainerReply> {
    return this.serialized(ref, () => this.renameNow(ref, name, meta));
  }

  remove(ref: string, force: boolean, meta: CommandMeta): Promise<ContainerReply> {
    return this.serialized(ref, () => this.removeNow(ref, force, meta));
  }

  private async serialized<T>(ref: string, work: () => Promise<T>): Promise<T> {
    const { id } = await this.resolver.resolve(ref);
    return this.serializedId(id, work);
  }

  private serializedId<T>(id: string, work: () => Promise<T>): Promise<T> {
    const before = this.verbLocks.get(id) ?? Promise.resolve();
    const run = before.then(work, work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.verbLocks.set(id, tail);
    void tail.then(() => {
      if (this.verbLocks.get(id) === tail) this.verbLocks.delete(id);
    });
    return run;
  }

  /** `docker wait`: until the container is not running, then its exit code. */
  async wait(ref: string): Promise<WaitReply> {
    const c = await this.resolver.resolve(ref);
    await this.processes.exited(c.id);
    const { state } = await this.resolver.state(c.id);
    if (state.status === 'running' || state.status === 'paused') {
      throw conflict('CONTAINER_RUNNING', `container ${c.name} is still running and this node is not watching it`);
    }
    return { exitCode: state.lastExit?.exitCode ?? 0, reason: state.lastExit?.reason ?? null };
  }

  async exec(ref: string, request: ExecRequest): Promise<ExecReply> {
    const c = await this.owned(ref);
    assertTransition((await this.resolver.state(c.id)).state, 'exec', ref);
    const root = await this.rootfs.mount(c.id);
    const result = await this.runtime.exec(c.id, {
      args: request.cmd,
      env: [...c.config.env, ...(request.env ?? [])],
      cwd: request.workingDir ?? c.config.workingDir,
      user: await resolveUser(root, request.user ?? c.config.user),
    });
    return { exitCode: result.exitCode, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8') };
  }

  async top(ref: string): Promise<TopReply> {
    const c = await this.owned(ref);
    assertTransition((await this.resolver.state(c.id)).state, 'exec', ref);
    return this.runtime.top(c.id);
  }

  async *logs(ref: string, options: { since?: string; tail?: number; follow?: boolean; signal?: AbortSignal }): AsyncIterable<LogLineView> {
    const c = await this.owned(ref);
    for await (const line of this.runtime.logs(c.id, options)) yield line;
  }

  /** `docker diff`: the writable layer relative to the image. */
  async diff(ref: string): Promise<DiffEntryView[]> {
    const c = await this.owned(ref);
    assertTransition((await this.resolver.state(c.id)).state, 'files', ref);
    return (await this.files.diff(c.id)).map((change) => ({ kind: change.kind, path: change.path }));
  }

  /**
   * Docker's init layer: the mount points runc needs (/dev, /proc, /sys…) as a committed layer between
   * the image and the container, shared by every container of that image, so they never show up in a
   * container's diff or commit.
   */
  private async initLayer(parent: string | undefined): Promise<string> {
    const snapshotter = this.snapshots.snapshotter;
    const name = `init-${parent ?? 'scratch'}`;
    if (await snapshotter.stat(name)) return name;
    const key = `init-tmp-${randomBytes(8).toString('hex')}`;
    await snapshotter.prepare(key, parent);
    try {
      const { dir } = await snapshotter.writable(key);
      for (const path of ['dev', 'proc', 'sys', 'dev/pts', 'dev/shm', 'dev/mqueue']) {
        await mkdir(join(dir, path), { recursive: true, mode: 0o755 });
      }
      await snapshotter.commit(name, key);
    } catch (error) {
      await snapshotter.remove(key).catch(() => undefined);
      if (await snapshotter.stat(name)) return name; // another create made it first
      throw error;
    }
    return name;
  }

  /** The container, which must live on this node (routing to its owner comes with clustering). */
  async owned(ref: string): Promise<ContainerView> {
    const c = await this.resolver.resolve(ref);
    if (c.nodeId !== this.config.nodeId) {
      throw conflict('CONTAINER_ON_OTHER_NODE', `container ${c.name} lives on node ${c.nodeId}, not ${this.config.nodeId}`, { nodeId: c.nodeId });
    }
    return c;
  }

  private async answer(id: string, commands: CommandReply[]): Promise<ContainerReply> {
    const position = lastPosition(commands);
    return { container: await this.resolver.viewAt(id, position), commands, position };
  }

  private async answerAt(id: string, position: number): Promise<ContainerReply> {
    return { container: await this.resolver.viewAt(id, position), commands: [], position };
  }
}

/** The id of the container a create with this command id makes: the same on every node and every run. */
export const containerIdFor = (commandId: string) => createHash('sha256').update(`container/${commandId}`).digest('hex');

/** The first run's step id, then `<step>-2`, `-3`… for the runs after a failed one. */
const attemptStep = (step: string, attempt: number) => (attempt === 0 ? step : `${step}-${attempt + 1}`);
/** The name steps of candidate `candidate` (0: the steps as they always were, so earlier logs still answer). */
const nameStep = (step: string, candidate: number, attempt: number) => attemptStep(candidate === 0 ? step : `${step}.${candidate}`, attempt);

/** "TERM", "SIGTERM", "15" → "SIGTERM", as docker kill -s takes them. */
export function normalizeSignal(signal: string): string {
  const names: Record<string, string> = { '1': 'SIGHUP', '2': 'SIGINT', '3': 'SIGQUIT', '9': 'SIGKILL', '10': 'SIGUSR1', '12': 'SIGUSR2', '15': 'SIGTERM' };
  const upper = signal.toUpperCase();
  const name = names[upper] ?? (upper.startsWith('SIG') ? upper : `SIG${upper}`);
  if (!/^SIG[A-Z0-9]{2,8}$/.test(name)) throw invalid('INVALID_SIGNAL', `unknown signal "${signal}"`);
  return name;
}

