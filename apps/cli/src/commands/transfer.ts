/**
 * `strata pull` and `strata push`: the node does the transfer; the CLI sends the request (with the
 * registry's credentials from the auth file, if any) and shows the NDJSON progress the node streams
 * back: a bar per blob on a terminal, a line per finished blob elsewhere, nothing with -q or --json.
 */
import { randomUUID } from 'node:crypto';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { Problem, PullImageReply, PullImageRequest, PushImageReply, PushImageRequest, TransferProgress } from '@strata/api';
import { parseTagRef } from '../args.js';
import { networkReason, toProblem } from '../client.js';
import type { Context } from '../context.js';
import { ProblemError, ProtocolError, UnreachableError, UsageError } from '../errors.js';
import { humanSize } from '../human.js';
import { readLines, readNdjson } from '../streams.js';
import { shortDigest } from '../table.js';
import { credentialsFor, registryAuthHeader, registryOf } from './registry-auth-file.js';

type ContextOf = (command: Command) => Context;
type Result = Extract<TransferProgress, { kind: 'result' }>;

export function registerTransfer(program: Command, contextOf: ContextOf): void {
  program
    .command('pull')
    .description('pull an image from a registry into the node (the node downloads and verifies every blob), like docker pull')
    .argument('<remote>', 'registry/name:tag or registry/name@sha256:… (credentials from strata login)')
    .argument('[repo:tag]', 'the local tag; default: the remote name and tag (none for a digest)')
    .option('--platform <os/arch[/variant]>', "from a multi-platform index (default: the node's platform)")
    .option('--insecure', 'plain HTTP to a registry that is not on loopback (loopback always is)')
    .option('-q, --quiet', 'no progress on stderr')
    .addHelpText('after', '\nExamples:\n  strata pull 127.0.0.1:5000/demo/app:1\n  strata pull registry.example.com/team/app@sha256:… app:pinned --platform linux/arm64')
    .action(async (remote: string, tagText: string | undefined, options: { platform?: string; insecure?: boolean; quiet?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (tagText !== undefined && tagText.includes('@')) throw new UsageError(`tag the pulled image by name, not digest: "${tagText}"`);
      const tag = tagText === undefined ? undefined : (({ name, tag }) => `${name}:${tag}`)(parseTagRef(tagText));
      const body: PullImageRequest = { remote, tag, platform: options.platform, insecure: options.insecure === true || undefined };
      const result = await runTransfer(ctx, '/images/pull', body, registryOf(remote), 'pull', options.quiet === true || ctx.json);
      const reply = result.pull as PullImageReply;
      if (ctx.json) return ctx.printJson(reply);
      const { downloaded, existing, bytes } = reply.blobs;
      ctx.print(`${reply.remote}: ${downloaded} blob(s) downloaded (${humanSize(bytes)}), ${existing} already here`);
      ctx.print(`Digest: ${reply.manifestDigest}${reply.platform ? ` (${reply.platform} from index ${shortDigest(reply.indexDigest)})` : ''}`);
      ctx.print(reply.tag ? `Pulled ${reply.remote} as ${reply.tag} (image ${shortDigest(reply.image.imageId)}) at position ${reply.position}` : `Pulled ${reply.remote}: image ${reply.image.imageId} (untagged)`);
    });

  program
    .command('push')
    .description('push an image of the node to a registry (blobs the registry has are skipped, others mounted or uploaded in chunks), like docker push')
    .argument('<image>', 'the local image: repo:tag, repo@sha256:…, a digest, an image id or a unique prefix')
    .argument('<remote>', 'registry/name:tag (credentials from strata login)')
    .option('--insecure', 'plain HTTP to a registry that is not on loopback (loopback always is)')
    .option('--chunk-size <bytes>', 'bytes per PATCH of a chunked upload (default 16 MiB)')
    .option('-q, --quiet', 'no progress on stderr')
    .addHelpText('after', '\nExamples:\n  strata push demo/app:1 127.0.0.1:5000/demo/app:1')
    .action(async (image: string, remote: string, options: { insecure?: boolean; chunkSize?: string; quiet?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const chunkSize = options.chunkSize === undefined ? undefined : Number(options.chunkSize);
      if (chunkSize !== undefined && !Number.isSafeInteger(chunkSize)) throw new UsageError(`--chunk-size "${options.chunkSize}" is not a byte count`);
      const body: PushImageRequest = { image, remote, insecure: options.insecure === true || undefined, chunkSize };
      const result = await runTransfer(ctx, '/images/push', body, registryOf(remote), 'push', options.quiet === true || ctx.json);
      const reply = result.push as PushImageReply;
      if (ctx.json) return ctx.printJson(reply);
      const { uploaded, existing, mounted, bytes } = reply.blobs;
      ctx.print(`${reply.remote}: ${uploaded} blob(s) uploaded (${humanSize(bytes)}), ${mounted} mounted, ${existing} already there`);
      ctx.print(`Pushed ${reply.remote}: digest ${reply.manifestDigest}`);
    });
}

/** POST the request; progress lines to the reporter; the result line returned; a problem line thrown. */
async function runTransfer(ctx: Context, path: string, body: object, registry: string, verb: 'pull' | 'push', quiet: boolean): Promise<Result> {
  const auth = await credentialsFor(ctx.io.env, registry);
  const headers: Record<string, string> = {
    Accept: 'application/x-ndjson, application/problem+json',
    'Content-Type': 'application/json',
    'Idempotency-Key': randomUUID(),
    ...registryAuthHeader(auth),
  };
  if (ctx.config.token) headers.Authorization = `Bearer ${ctx.config.token}`;
  let res: Response;
  try {
    res = await fetch(`${ctx.config.url.replace(/\/+$/, '')}${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal: ctx.io.signal });
  } catch (error) {
    if (ctx.io.signal?.aborted) throw error;
    throw new UnreachableError(ctx.config.url, networkReason(error), { cause: error });
  }
  if (!res.ok) throw new ProblemError(toProblem(res, await res.text()));
  if (!res.body) throw new ProtocolError(`POST ${path} answered without a body`);
  const reporter = quiet ? null : ctx.io.stderr.isTTY ? barReporter(ctx, verb) : plainReporter(ctx, verb);
  try {
    for await (const value of readNdjson(readLines(res.body as ReadableStream<Uint8Array>))) {
      const line = value as TransferProgress & Partial<Problem>;
      if (typeof line.code === 'string' && typeof line.status === 'number') throw new ProblemError(line as unknown as Problem);
      if (line.kind === 'result') return line;
      reporter?.update(line);
    }
  } catch (error) {
    if (error instanceof ProblemError || ctx.io.signal?.aborted) throw error;
    throw new ProtocolError(`the answer of POST ${path} was cut off (${networkReason(error)}): the ${verb} may not have finished`, { cause: error });
  } finally {
    reporter?.stop();
  }
  throw new ProtocolError(`the ${verb} stream ended without a result: the ${verb} may not have finished`);
}

interface Reporter {
  update(line: TransferProgress): void;
  stop(): void;
}

const STATUS_WORD: Record<string, string> = { mounted: 'mounted', done: 'done', resumed: 'resumed', downloading: 'downloading', uploading: 'uploading' };
/** A blob we need not move: on a pull it is in the node already, on a push in the registry. */
const statusWord = (status: string, verb: 'pull' | 'push') => (status === 'exists' ? (verb === 'pull' ? 'already here' : 'already there') : STATUS_WORD[status]!);

function barReporter(ctx: Context, verb: 'pull' | 'push'): Reporter {
  const multi = new cliProgress.MultiBar(
    { stream: ctx.io.stderr, format: '{id} [{bar}] {percentage}% | {moved}/{size} | {status}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    update(line) {
      if (line.kind === 'plan') {
        for (const blob of line.blobs) {
          bars.set(blob.digest, multi.create(Math.max(blob.size, 1), 0, { id: shortDigest(blob.digest), moved: humanSize(0), size: humanSize(blob.size), status: 'waiting' }));
        }
      } else if (line.kind === 'blob') {
        const status = line.status === 'done' || line.status === 'exists' || line.status === 'mounted' ? statusWord(line.status, verb) : verb === 'pull' ? 'downloading' : 'uploading';
        bars.get(line.digest)?.update(line.bytes, { moved: humanSize(line.bytes), status: line.status === 'resumed' ? 'resumed' : status });
      } else if (line.kind === 'verifying') {
        multi.log(`verifying ${shortDigest(line.manifestDigest)}…\n`);
      }
    },
    stop() {
      multi.stop();
    },
  };
}

function plainReporter(ctx: Context, verb: 'pull' | 'push'): Reporter {
  return {
    update(line) {
      if (line.kind === 'plan') ctx.note(`${verb}: ${line.blobs.length} blob(s), manifest ${line.manifestDigest}${line.platform ? ` (${line.platform})` : ''}`);
      else if (line.kind === 'blob' && line.status !== 'downloading' && line.status !== 'uploading') {
        ctx.note(`${shortDigest(line.digest)}: ${statusWord(line.status, verb)}${line.status === 'resumed' ? ` at ${humanSize(line.bytes)}` : ` (${humanSize(line.size)})`}`);
      } else if (line.kind === 'verifying') ctx.note(`verifying ${shortDigest(line.manifestDigest)}`);
    },
    stop() {},
  };
}
