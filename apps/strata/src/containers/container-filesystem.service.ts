import { Injectable } from '@nestjs/common';
import type { CommandReply, ContainerReply } from '@strata/api';
import { assertTransition, invalid, notFound, type CommandMeta } from '@strata/domain';
import { RootResolver } from '@strata/layers';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, lstat, readlink, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import { CommandSteps, lastPosition } from '../commands/command-steps.js';
import { ContainerFiles } from './container-files.js';
import { ContainerResolver } from './container-resolver.js';
import { ContainerRootfs } from './container-rootfs.js';
import { ContainersService } from './containers.service.js';

/** A path as a container sees it: absolute, no `..` (refused, not clamped: the caller meant to leave). */
export function containerPath(path: string | undefined): string {
  if (!path || !path.startsWith('/')) throw invalid('INVALID_PATH', `give an absolute path inside the container, e.g. /etc/app.conf (got ${JSON.stringify(path ?? '')})`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..') || path.includes('\0')) {
    throw invalid('PATH_ESCAPES_ROOT', `"${path}" climbs out with "..": paths stay inside the container's root`, { path });
  }
  return parts.join('/') || '.';
}

/**
 * `docker cp` and the files API: reads and writes through the container's mounted root filesystem, so
 * copy-on-write and whiteouts are the kernel's (overlay) or real (native). Symlinks are followed the
 * way the container would see them — inside its root, never out of it. API writes are recorded at once
 * as ContainerFilesChanged {source: api}.
 */
@Injectable()
export class ContainerFilesystem {
  constructor(
    private readonly containers: ContainersService,
    private readonly resolver: ContainerResolver,
    private readonly rootfs: ContainerRootfs,
    private readonly files: ContainerFiles,
    private readonly steps: CommandSteps,
  ) {}

  async read(ref: string, path: string): Promise<Readable> {
    const { abs } = await this.locate(ref, path, true);
    const stats = await lstat(abs).catch(() => undefined);
    if (!stats) throw notFound('PATH_NOT_FOUND', `${path}: no such file in the container`, { path });
    if (!stats.isFile()) throw invalid('NOT_A_FILE', `${path} is not a regular file`, { path });
    return createReadStream(abs);
  }

  async write(ref: string, path: string, body: Readable, mode: number | undefined, meta: CommandMeta): Promise<ContainerReply> {
    const { id, abs, dir } = await this.locate(ref, path, true);
    const existing = await lstat(abs).catch(() => undefined);
    if (existing?.isDirectory()) throw invalid('NOT_A_FILE', `${path} is a directory`, { path });
    // A temp file renamed over the target: a reader never sees half a file, and a symlink there is
    // replaced, not written through.
    const temp = join(dir, `.strata-cp-${randomUUID()}`);
    try {
      await pipeline(body, createWriteStream(temp, { mode: 0o644 }));
      await chmod(temp, mode ?? (existing ? existing.mode & 0o7777 : 0o644));
      await rename(temp, abs);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return this.record(id, path, meta);
  }

  async remove(ref: string, path: string, meta: CommandMeta): Promise<ContainerReply> {
    const { id, abs } = await this.locate(ref, path, false);
    if (!(await lstat(abs).catch(() => undefined))) throw notFound('PATH_NOT_FOUND', `${path}: no such file in the container`, { path });
    await rm(abs, { recursive: true, force: true });
    return this.record(id, path, meta);
  }

  /** Records the changes of `path` (and of anything under it) as the API's, right away. */
  private async record(id: string, path: string, meta: CommandMeta): Promise<ContainerReply> {
    const prefix = path.replace(/\/+$/, '');
    const changes = (await this.files.unrecorded(id)).filter((c) => c.path === prefix || c.path.startsWith(`${prefix}/`));
    const commands: CommandReply[] = [];
    if (changes.length > 0) commands.push(await this.steps.run(meta, 'files', 'RecordFilesChanged', { id, source: 'api', changes }));
    const position = lastPosition(commands);
    return { container: await this.resolver.viewAt(id, position), commands, position };
  }

  /** The real path of `path` inside the container's mounted root (its parent must exist), following a last-component symlink if asked. */
  private async locate(ref: string, path: string, followLast: boolean): Promise<{ id: string; abs: string; dir: string }> {
    const rel = containerPath(path);
    const c = await this.containers.owned(ref);
    assertTransition((await this.resolver.state(c.id)).state, 'files', ref);
    const root = await this.rootfs.mount(c.id);
    const resolver = new RootResolver(root);
    let target = rel;
    // Follow a symlink in the last component too (cp reads and writes what the link names), inside the root.
    for (let hops = 0; hops < 40; hops++) {
      const located = await resolver.locate(target, false);
      if (!located) throw notFound('PATH_NOT_FOUND', `${path}: a parent directory does not exist in the container`, { path });
      const stats = await lstat(located.abs).catch(() => undefined);
      if (!stats?.isSymbolicLink() || !followLast) return { id: c.id, abs: located.abs, dir: located.dir };
      const link = await readlink(located.abs);
      const base = link.startsWith('/') ? link : `${target.split('/').slice(0, -1).join('/')}/${link}`;
      // `..` in a link is clamped at the root, as the container itself would see it.
      const parts: string[] = [];
      for (const part of base.split('/')) {
        if (part === '' || part === '.') continue;
        if (part === '..') parts.pop();
        else parts.push(part);
      }
      target = parts.join('/') || '.';
    }
    throw invalid('UNSAFE_PATH', `${path}: too many levels of symbolic links`, { path });
  }
}
