/** `strata build` (a Dockerfile into an image, step by step) and `strata build history <buildId>`. */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { BuildHistoryReply, BuildProgress, Problem } from '@strata/api';
import { parseTagRef } from '../args.js';
import type { Context } from '../context.js';
import { ExitStatus, ProblemError, ProtocolError, UnreachableError, UsageError } from '../errors.js';
import { readLines, readNdjson } from '../streams.js';
import { formatTable, shortDigest } from '../table.js';
import { toProblem, networkReason } from '../client.js';
import { contextUpload } from './build-context-tar.js';
import { describeProgress } from './build-progress.js';

type ContextOf = (command: Command) => Context;

interface BuildOptions {
  tag?: string;
  file?: string;
  buildArg: string[];
  cache: boolean;
  quiet?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerBuild(program: Command, contextOf: ContextOf): void {
  const build = program
    .command('build')
    .description('build an image from a Dockerfile and a context directory, like docker build')
    .argument('<context-dir>', 'the directory whose files COPY and ADD may take (.dockerignore applies)')
    .option('-t, --tag <repo:tag>', 'tag the result; without :tag, latest')
    .option('-f, --file <Dockerfile>', 'the Dockerfile (default: <context-dir>/Dockerfile)')
    .option('--build-arg <NAME=value>', 'a value for an ARG (repeatable); recorded in the log, so never a secret', collect, [])
    .option('--no-cache', 'run every step, take nothing from the build cache')
    .option('-q, --quiet', 'print only the image id')
    .addHelpText('after', '\nExamples:\n  strata build -t demo/app:1 .\n  strata build -f docker/Dockerfile --build-arg VERSION=2 --no-cache -t demo/app:2 .\n  strata build history <buildId>')
    .action(async (dir: string, options: BuildOptions, cmd: Command) => runBuild(contextOf(cmd), dir, options));

  build
    .command('history')
    .description("a build's stream: when it started, from which context, each step, how it ended")
    .argument('<buildId>')
    .action(async (buildId: string, _options: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const reply = await ctx.client.get<BuildHistoryReply>(`/builds/${encodeURIComponent(buildId)}/history`);
      if (ctx.json) return ctx.printJson(reply);
      ctx.print(formatTable(['POSITION', 'TIME', 'EVENT', 'BY', 'DETAILS'], reply.items.map((e) => [e.position, e.occurredAt, e.type, e.actor, details(e.type, e.data)])));
    });
}

function details(type: string, data: unknown): string {
  const d = data as Record<string, any>;
  switch (type) {
    case 'BuildStarted':
      return `${d.instructions.length} steps, context ${shortDigest(d.contextDigest)}, ${d.dockerfile} ${shortDigest(d.fileDigest)}${d.tag ? `, tag ${d.tag}` : ''}${d.noCache ? ', no cache' : ''}`;
    case 'BuildStepCompleted':
      return `${d.n}: ${d.instruction} -> ${shortDigest(d.imageId)}${d.cached ? ' (cached)' : ''}`;
    case 'BuildCompleted':
      return `${shortDigest(d.imageId)}${d.tag ? ` tagged ${d.tag}` : ''}`;
    case 'BuildFailed':
      return `step ${d.step}: ${d.error?.message}${d.exitCode !== null && d.exitCode !== undefined ? ` (exit code ${d.exitCode})` : ''}`;
    default:
      return '';
  }
}

function buildArgs(pairs: string[]): string[] {
  for (const pair of pairs) if (pair.indexOf('=') <= 0) throw new UsageError(`--build-arg ${pair}: give NAME=value`);
  return pairs;
}

async function runBuild(ctx: Context, dir: string, options: BuildOptions): Promise<void> {
  const tag = options.tag === undefined ? undefined : (({ name, tag }) => `${name}:${tag}`)(parseTagRef(options.tag));
  const args = buildArgs(options.buildArg);
  const upload = await contextUpload(dir, options.file);
  const query = new URLSearchParams();
  if (tag) query.set('tag', tag);
  query.set('dockerfile', upload.dockerfile);
  for (const a of args) query.append('buildArg', a);
  if (!options.cache) query.set('noCache', 'true');
  const headers: Record<string, string> = {
    Accept: 'application/x-ndjson, application/problem+json',
    'Content-Type': 'application/x-tar',
    'Idempotency-Key': randomUUID(),
  };
  if (ctx.config.token) headers.Authorization = `Bearer ${ctx.config.token}`;
  let res: Response;
  try {
    res = await fetch(`${ctx.client.url}/builds?${query}`, {
      method: 'POST', headers, body: Readable.from(upload.chunks) as unknown as ReadableStream, duplex: 'half', signal: ctx.io.signal,
    } as RequestInit);
  } catch (error) {
    throw new UnreachableError(ctx.client.url, networkReason(error), { cause: error });
  }
  if (!res.ok) throw new ProblemError(toProblem(res, await res.text()));
  if (!res.body) throw new ProtocolError(`the node answered ${res.status} without a body`);
  let end: BuildProgress | null = null;
  for await (const value of readNdjson(readLines(res.body as ReadableStream<Uint8Array>))) {
    const problem = value as Partial<Problem>;
    if (typeof problem.code === 'string' && typeof problem.status === 'number') throw new ProblemError(value as Problem);
    const p = value as BuildProgress;
    if (ctx.json) ctx.io.stdout.write(`${JSON.stringify(p)}\n`);
    else if (!options.quiet) for (const line of describeProgress(p)) ctx.note(line);
    if (p.type === 'completed' || p.type === 'failed') end = p;
  }
  if (!end) throw new ProtocolError('the build answer ended without its outcome (the node may have stopped): see strata build history');
  if (end.type === 'failed') {
    if (!ctx.json) {
      ctx.note(`error: ${end.message} (${end.code})`);
      if (end.output && options.quiet) ctx.note(end.output);
      ctx.note(`build ${end.buildId} failed at step ${end.step}: strata build history ${end.buildId}`);
    }
    throw new ExitStatus(1);
  }
  if (ctx.json) return;
  if (options.quiet) return ctx.print(end.imageId);
  ctx.print(`Successfully built ${shortDigest(end.imageId)}`);
  if (end.tag) ctx.print(`Successfully tagged ${end.tag}`);
  ctx.note(`build ${end.buildId} recorded at position ${end.position}`);
}
