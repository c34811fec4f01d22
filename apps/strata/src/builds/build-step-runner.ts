import { Inject, Injectable, Logger } from '@nestjs/common';
import type { BuildProgress, ImageView } from '@strata/api';
import { DomainError, type BuildStep, type CommandMeta } from '@strata/domain';
import { RootResolver } from '@strata/layers';
import { CommandSteps } from '../commands/command-steps.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ContainerCommitService } from '../containers/container-commit.service.js';
import { ContainerFiles } from '../containers/container-files.js';
import { ContainerRootfs } from '../containers/container-rootfs.js';
import { ContainersService } from '../containers/containers.service.js';
import { ImagesService } from '../images/images.service.js';
import type { BuildContext } from './build-context.js';
import { BuildImages } from './build-images.js';
import { copyInto } from './copy-files.js';

/** How a failed step ended: a RUN's exit code and the tail of its output. */
export class BuildStepFailure extends DomainError {
  constructor(
    code: string,
    message: string,
    readonly exitCode: number | null,
    readonly output: string | null,
  ) {
    super('invalid', code, message);
  }
}

/** What one build gives each of its steps. */
export interface StepContext {
  buildId: string;
  meta: CommandMeta;
  context: BuildContext;
  emit(progress: BuildProgress): void;
}

const OUTPUT_TAIL_LINES = 50;

/**
 * Runs one step of a build with the node's own machinery: a file-changing step is a container
 * (CreateContainer, StartContainer for RUN) whose writable layer is committed (CommitLayer with the
 * instruction as created_by) and then removed; a config-only step is a new image over the same layers.
 */
@Injectable()
export class BuildStepRunner {
  private readonly logger = new Logger('build');
  constructor(
    private readonly containers: ContainersService,
    private readonly commits: ContainerCommitService,
    private readonly rootfs: ContainerRootfs,
    private readonly files: ContainerFiles,
    private readonly images: ImagesService,
    private readonly buildImages: BuildImages,
    private readonly steps: CommandSteps,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  async run(step: Exclude<BuildStep, { kind: 'from' }>, parent: ImageView, ctx: StepContext): Promise<{ image: ImageView; containerId: string | null }> {
    switch (step.kind) {
      case 'config':
        return { image: await this.buildImages.configStep(parent, step.text, step.change, stepMeta(ctx, step.n, 'config'), `build ${ctx.buildId}`), containerId: null };
      case 'workdir':
        if (await this.isDirectory(parent, step.path)) {
          return { image: await this.buildImages.configStep(parent, step.text, { workingDir: step.path }, stepMeta(ctx, step.n, 'config'), `build ${ctx.buildId}`), containerId: null };
        }
        // Docker makes a missing WORKDIR: one more (small) layer.
        return this.inContainer(step, parent, ctx, [`WORKDIR ${step.path}`], async (root) => {
          await new RootResolver(root).directory(step.path.replace(/^\/+/, '') || '.', true);
        });
      case 'copy':
        return this.inContainer(step, parent, ctx, [], (root) =>
          copyInto(root, step, ctx.context, { maxUncompressedBytes: this.config.maxLayerBytes, setuid: this.config.setuid }),
        );
      case 'run':
        return this.runCommand(step, parent, ctx);
    }
  }

  /** RUN: a container from the parent image runs the command under runc; its output streams live. */
  private async runCommand(step: Extract<BuildStep, { kind: 'run' }>, parent: ImageView, ctx: StepContext) {
    const { container } = await this.containers.create(
      { image: parent.manifestDigest, name: containerName(ctx.buildId, step.n), cmd: step.command, entrypoint: [], env: step.env },
      stepMeta(ctx, step.n, 'create'),
    );
    try {
      await this.containers.start(container.id, stepMeta(ctx, step.n, 'start'));
      const tail: string[] = [];
      for await (const line of this.containers.logs(container.id, { follow: true })) {
        ctx.emit({ type: 'output', buildId: ctx.buildId, n: step.n, stream: line.stream === 'stderr' ? 'stderr' : 'stdout', line: line.line });
        tail.push(line.line);
        if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
      }
      const { exitCode } = await this.containers.wait(container.id);
      if (exitCode !== 0) {
        throw new BuildStepFailure('RUN_FAILED', `step ${step.n} (${step.text}) returned a non-zero code: ${exitCode}`, exitCode, tail.join('\n'));
      }
      const { image } = await this.commits.commit(container.id, {}, stepMeta(ctx, step.n, 'commit'), { createdBy: step.text });
      return { image, containerId: container.id };
    } finally {
      await this.discard(container.id, ctx, step.n);
    }
  }

  /** COPY/ADD and a missing WORKDIR: a container that never runs; files written into its root, then committed. */
  private async inContainer(step: BuildStep, parent: ImageView, ctx: StepContext, changes: string[], work: (root: string) => Promise<void>) {
    const { container } = await this.containers.create(
      { image: parent.manifestDigest, name: containerName(ctx.buildId, step.n), cmd: ['/bin/sh', '-c', `#(nop) ${step.text}`], entrypoint: [] },
      stepMeta(ctx, step.n, 'create'),
    );
    try {
      await work(await this.rootfs.mount(container.id));
      const written = await this.files.unrecorded(container.id);
      if (written.length > 0) await this.steps.run(stepMeta(ctx, step.n, 'files'), 'files', 'RecordFilesChanged', { id: container.id, source: 'api', changes: written });
      const { image } = await this.commits.commit(container.id, { changes }, stepMeta(ctx, step.n, 'commit'), { createdBy: step.text });
      return { image, containerId: container.id };
    } finally {
      await this.discard(container.id, ctx, step.n);
    }
  }

  /** Intermediate containers go once committed (or failed): nothing of a build stays running. */
  private async discard(id: string, ctx: StepContext, n: number): Promise<void> {
    await this.containers.remove(id, true, stepMeta(ctx, n, 'remove')).catch((error) =>
      this.logger.error({ msg: 'could not remove a build container', buildId: ctx.buildId, container: id, error: String(error) }),
    );
  }

  private async isDirectory(image: ImageView, path: string): Promise<boolean> {
    if (path === '/') return true;
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    const name = path.slice(path.lastIndexOf('/') + 1);
    const entries = await this.images.files(image.manifestDigest, parent, false).catch(() => []);
    return entries.some((e) => e.path.replace(/\/+$/, '').split('/').pop() === name && e.type === 'dir');
  }
}

/** The ids of a step's commands derive from the build request's: `<commandId>/s<n>-<what>`. */
export function stepMeta(ctx: { meta: CommandMeta }, n: number, what: string): CommandMeta {
  return { ...ctx.meta, commandId: `${ctx.meta.commandId}/s${n}-${what}`, causationId: ctx.meta.commandId, occurredAt: new Date().toISOString() };
}

const containerName = (buildId: string, n: number) => `build-${buildId.slice(0, 12)}-step-${n}`;
