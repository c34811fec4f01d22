import { Inject, Injectable, Logger } from '@nestjs/common';
import type { BuildProgress, ImageView } from '@strata/api';
import {
  assertRepositoryName,
  assertTag,
  baseImageOf,
  buildStreamId,
  conflict,
  DomainError,
  invalid,
  notFound,
  parseDockerfile,
  parseRepoTag,
  planBuild,
  type BuildPlan,
  type BuildStep,
  type CommandMeta,
} from '@strata/domain';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CommandSteps } from '../commands/command-steps.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ImageResolver } from '../images/image-resolver.js';
import { BuildCache, cacheKey } from './build-cache.js';
import { BuildContext } from './build-context.js';
import { BuildImages } from './build-images.js';
import { BuildStepFailure, BuildStepRunner, stepMeta, type StepContext } from './build-step-runner.js';
import { copyInputs } from './copy-files.js';

export interface BuildOptions {
  tag?: string;
  dockerfile?: string;
  buildArgs: Record<string, string>;
  noCache: boolean;
}

/** A build whose inputs are checked (context unpacked, Dockerfile parsed, base image found), not started. */
export interface PreparedBuild {
  buildId: string;
  dir: string;
  context: BuildContext;
  dockerfile: { path: string; digest: string };
  plan: BuildPlan;
  base: ImageView | null;
  tag: string | null;
  options: BuildOptions;
  meta: CommandMeta;
}

/**
 * `docker build` as a saga with its own stream: BuildStarted, one BuildStepCompleted per instruction
 * (made or taken from the cache), then BuildCompleted (after the tag moves) or BuildFailed. Every
 * command's id derives from the request's, and a build id from its command id, so a retried request
 * finds its build instead of making a second one.
 */
@Injectable()
export class BuildsService {
  private readonly logger = new Logger('build');
  constructor(
    private readonly runner: BuildStepRunner,
    private readonly cache: BuildCache,
    private readonly images: ImageResolver,
    private readonly buildImages: BuildImages,
    private readonly steps: CommandSteps,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  /** Everything that can be refused before the build starts (answered as a problem, nothing recorded). */
  async prepare(body: Readable, options: BuildOptions, meta: CommandMeta): Promise<PreparedBuild> {
    const tag = options.tag ? checkedTag(options.tag) : null;
    const buildId = createHash('sha256').update(`build/${meta.commandId}`).digest('hex').slice(0, 32);
    if ((await this.store.readStream(buildStreamId(buildId))).length > 0) {
      body.resume();
      throw conflict('BUILD_EXISTS', `this request already made build ${buildId}: see strata build history ${buildId}`, { buildId });
    }
    const dir = join(this.config.dataDir, 'builds', buildId);
    try {
      const context = await BuildContext.unpack(body, join(dir, 'context'), { maxUncompressedBytes: this.config.maxLayerBytes, setuid: this.config.setuid });
      const path = options.dockerfile ?? 'Dockerfile';
      const { text, digest } = await context.dockerfile(path);
      const parsed = parseDockerfile(text);
      const from = baseImageOf(parsed, options.buildArgs);
      const base = from === 'scratch' ? null : await this.images.resolve(from).catch((error: unknown) => {
        if ((error as DomainError).code !== 'IMAGE_NOT_FOUND') throw error;
        throw notFound('IMAGE_NOT_FOUND', `FROM ${from}: no such image on this node (import, load or pull it first)`, { reference: from });
      });
      const plan = planBuild(parsed, { buildArgs: options.buildArgs, baseEnv: base?.config.env ?? [], baseWorkdir: base?.config.workingDir ?? null });
      return { buildId, dir, context, dockerfile: { path, digest }, plan, base, tag, options, meta };
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Runs a prepared build to its end; failures are recorded and reported through `emit`, never thrown. */
  async run(p: PreparedBuild, emit: (progress: BuildProgress) => void): Promise<void> {
    const { buildId, plan } = p;
    const total = plan.steps.length;
    const record = (step: string, name: string, input: object) => this.steps.run(p.meta, step, name, { buildId, ...input });
    const ctx: StepContext = { buildId, meta: p.meta, context: p.context, emit };
    let current = 0;
    try {
      await record('start', 'StartBuild', {
        contextDigest: p.context.digest, fileDigest: p.dockerfile.digest, dockerfile: p.dockerfile.path, args: p.options.buildArgs, tag: p.tag,
        noCache: p.options.noCache, instructions: plan.steps.map((s) => s.text),
      });
      emit({
        type: 'started', buildId, total, contextDigest: p.context.digest, fileDigest: p.dockerfile.digest,
        warnings: plan.unusedArgs.map((name) => `build-arg ${name} was not consumed: no ARG ${name} in the Dockerfile`),
      });
      let parent = p.base ?? (await this.buildImages.scratch(stepMeta(ctx, 1, 'scratch')));
      for (const step of plan.steps) {
        current = step.n;
        emit({ type: 'step', buildId, n: step.n, total, instruction: step.text });
        const done = step.kind === 'from' ? { image: parent, cached: false, key: null, containerId: null } : await this.step(step, parent, p, ctx);
        await record(`step-${step.n}`, 'CompleteBuildStep', {
          n: step.n, instruction: step.text, manifestDigest: done.image.manifestDigest, imageId: done.image.imageId, cached: done.cached, cacheKey: done.key,
          containerId: done.containerId,
        });
        emit({ type: 'step-completed', buildId, n: step.n, total, manifestDigest: done.image.manifestDigest, imageId: done.image.imageId, cached: done.cached });
        parent = done.image;
      }
      current = total + 1;
      if (p.tag) await this.steps.run(p.meta, 'tag', 'TagImage', { ...parseRepoTag(p.tag), digest: parent.manifestDigest });
      const completed = await record('complete', 'CompleteBuild', { manifestDigest: parent.manifestDigest, imageId: parent.imageId, tag: p.tag });
      emit({ type: 'completed', buildId, manifestDigest: parent.manifestDigest, imageId: parent.imageId, tag: p.tag, position: completed.position });
    } catch (error) {
      const failure = failureOf(error);
      this.logger.warn({ msg: 'build failed', buildId, step: current, code: failure.code, error: failure.message });
      const step = Math.min(current, total);
      const failed = await record('fail', 'FailBuild', { step, error: { code: failure.code, message: failure.message }, exitCode: failure.exitCode, output: failure.output }).catch(
        (e: unknown) => {
          this.logger.error({ msg: 'could not record a failed build', buildId, error: String(e) });
          return { position: 0 };
        },
      );
      emit({ type: 'failed', buildId, step, code: failure.code, message: failure.message, exitCode: failure.exitCode, output: failure.output, position: failed.position });
    } finally {
      await rm(p.dir, { recursive: true, force: true });
    }
  }

  /** A step from the cache when its key was seen (and its image lives), otherwise made now. */
  private async step(step: Exclude<BuildStep, { kind: 'from' }>, parent: ImageView, p: PreparedBuild, ctx: StepContext) {
    const key = cacheKey({ parent: parent.manifestDigest, ...(await this.inputsOf(step, p)) });
    if (!p.options.noCache) {
      const hit = await this.cache.lookup(key);
      if (hit) return { image: hit, cached: true, key, containerId: null };
    }
    const made = await this.runner.run(step, parent, ctx);
    return { ...made, cached: false, key };
  }

  /** What a step's result depends on besides its parent image. */
  private async inputsOf(step: Exclude<BuildStep, { kind: 'from' }>, p: PreparedBuild): Promise<Record<string, unknown>> {
    switch (step.kind) {
      case 'run':
        return { kind: 'run', command: step.command, env: step.env };
      case 'copy':
        return { kind: step.add ? 'add' : 'copy', text: step.text, dest: step.dest, destIsDir: step.destIsDir, chown: step.chown, chmod: step.chmod, files: await copyInputs(step, p.context) };
      case 'workdir':
        return { kind: 'workdir', path: step.path };
      case 'config':
        return { kind: 'config', text: step.text, change: step.change };
    }
  }
}

function checkedTag(text: string): string {
  if (text.includes('@')) throw invalid('INVALID_TAG', `tag the image by name, not digest: "${text}"`);
  const { name, tag } = parseRepoTag(text);
  assertRepositoryName(name);
  assertTag(tag);
  return `${name}:${tag}`;
}

function failureOf(error: unknown): { code: string; message: string; exitCode: number | null; output: string | null } {
  if (error instanceof BuildStepFailure) return { code: error.code, message: error.message, exitCode: error.exitCode, output: error.output };
  if (error instanceof DomainError) return { code: error.code, message: error.message, exitCode: null, output: null };
  const e = error as { code?: unknown; message?: unknown };
  return { code: typeof e?.code === 'string' ? e.code : 'BUILD_ERROR', message: typeof e?.message === 'string' ? e.message : String(error), exitCode: null, output: null };
}
