import { invalid, type BuildStep } from '@strata/domain';
import { applyLayer, RootResolver } from '@strata/layers';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, lchown, lstat, open, rm, symlink, utimes } from 'node:fs/promises';
import { posix } from 'node:path';
import { resolveUser } from '../containers/user-lookup.js';
import type { BuildContext, ContextEntry } from './build-context.js';

type CopyStep = Extract<BuildStep, { kind: 'copy' }>;

/**
 * What a COPY/ADD depends on, for the build cache: every file it takes (path, type, mode, content
 * digest or link target), in order. Times are left out, as Docker does: touching a file is no change.
 */
export async function copyInputs(step: CopyStep, context: BuildContext): Promise<unknown[]> {
  const inputs: unknown[] = [];
  for (const source of step.sources) {
    for (const match of context.select(source)) {
      const entries = match.type === 'dir' ? context.under(match.path) : [match];
      for (const e of entries) inputs.push([source, e.path, e.type, e.mode, e.type === 'file' ? await context.fileDigest(e) : e.target]);
    }
  }
  return inputs;
}

/**
 * Docker's COPY into a container's mounted root: a directory's contents (not the directory) go into
 * the destination; a file goes to the destination, or into it when it ends in `/`, is an existing
 * directory or receives several sources. ADD unpacks a local tar (plain or gzip) into the destination.
 * Owner root unless --chown, modes kept unless --chmod. Every path resolved inside `root`.
 */
export async function copyInto(root: string, step: CopyStep, context: BuildContext, limits: { maxUncompressedBytes: number; setuid: 'allow' | 'strip' | 'reject' }): Promise<void> {
  const owner = step.chown ? await resolveUser(root, step.chown) : { uid: 0, gid: 0 };
  const resolver = new RootResolver(root);
  const matches = step.sources.flatMap((source) => context.select(source));
  const manyInto = step.destIsDir || matches.length > 1;
  const put = new Putter(resolver, owner, step.chmod);
  for (const match of matches) {
    if (match.type === 'dir') {
      await put.dir(step.dest, match.path === '' ? null : match);
      for (const e of context.under(match.path)) await put.entry(context, e, posix.join(step.dest, posix.relative(match.path || '.', e.path)));
      continue;
    }
    if (step.add && match.type === 'file' && (await isArchive(context.abs(match)))) {
      const dir = await resolver.directory(rel(step.dest), true);
      await applyLayer(createReadStream(context.abs(match)), dir!, { style: 'native', sameOwner: true, ...limits });
      continue;
    }
    let to = step.dest;
    if (manyInto || (await put.isDir(step.dest))) to = posix.join(step.dest, posix.basename(match.path));
    await put.entry(context, match, to);
  }
}

const rel = (path: string) => path.replace(/^\/+/, '').replace(/\/+$/, '') || '.';

class Putter {
  constructor(
    private readonly resolver: RootResolver,
    private readonly owner: { uid: number; gid: number },
    private readonly mode: number | null,
  ) {}

  async isDir(path: string): Promise<boolean> {
    const place = await this.resolver.locate(rel(path), false);
    return place !== undefined && ((await lstat(place.abs).catch(() => undefined))?.isDirectory() ?? false);
  }

  async dir(path: string, from: ContextEntry | null): Promise<void> {
    const abs = await this.resolver.directory(rel(path), true);
    if (from) {
      await chmod(abs!, this.mode ?? from.mode);
      await lchown(abs!, this.owner.uid, this.owner.gid);
    }
  }

  async entry(context: BuildContext, e: ContextEntry, to: string): Promise<void> {
    if (e.type === 'dir') return this.dir(to, e);
    const place = await this.resolver.locate(rel(to), true);
    if (!place) throw invalid('COPY_FAILED', `cannot copy to ${to}`);
    const existing = await lstat(place.abs).catch(() => undefined);
    if (existing?.isDirectory()) throw invalid('COPY_FAILED', `cannot copy ${e.path} over the directory ${to}`, { path: to });
    if (existing) await rm(place.abs, { force: true });
    if (e.type === 'symlink') {
      await symlink(e.target!, place.abs);
      await lchown(place.abs, this.owner.uid, this.owner.gid);
      return;
    }
    await copyFile(context.abs(e), place.abs);
    await chmod(place.abs, this.mode ?? e.mode);
    await lchown(place.abs, this.owner.uid, this.owner.gid);
    await utimes(place.abs, e.mtime, e.mtime);
  }
}

/** A tar (ustar magic at 257) or gzip (1f 8b) by its first bytes, as Docker's ADD decides. */
async function isArchive(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(262);
    const { bytesRead } = await handle.read(head, 0, 262, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
    return bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    await handle.close();
  }
}
