import { cleanPath, globToRegExp, hasGlob, invalid, isIgnored, notFound, parseDockerignore, type IgnoreRule } from '@strata/domain';
import { applyLayer } from '@strata/layers';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** One path of the build context (relative, `/`-separated), as COPY sees it. */
export interface ContextEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  mtime: Date;
  /** A symlink's target. */
  target: string | null;
}

/**
 * The build context on the node: the tar the client sent, unpacked with the same checks as a layer
 * (no `..`, no links out, size cap) into the build's own directory; `.dockerignore` applied to what
 * COPY and ADD may take; file digests computed once, on demand.
 */
export class BuildContext {
  private readonly digests = new Map<string, string>();
  private constructor(
    readonly dir: string,
    readonly digest: string,
    private readonly entries: Map<string, ContextEntry>,
  ) {}

  static async unpack(body: Readable, dir: string, limits: { maxUncompressedBytes: number; setuid: 'allow' | 'strip' | 'reject' }): Promise<BuildContext> {
    const digests = await applyLayer(body, dir, { style: 'native', sameOwner: false, setuid: limits.setuid, maxUncompressedBytes: limits.maxUncompressedBytes });
    const ignore = await readFile(join(dir, '.dockerignore'), 'utf8').then(parseDockerignore, () => [] as IgnoreRule[]);
    const entries = new Map<string, ContextEntry>();
    await walk(dir, '', ignore, entries);
    return new BuildContext(dir, digests.digest, entries);
  }

  /** The Dockerfile's text (it is read even when .dockerignore excludes it, as Docker does). */
  async dockerfile(path: string): Promise<{ text: string; digest: string }> {
    const rel = cleanPath(path);
    const stats = rel ? await lstat(join(this.dir, rel)).catch(() => undefined) : undefined;
    if (!stats?.isFile()) throw invalid('DOCKERFILE_NOT_FOUND', `no Dockerfile "${path}" in the build context`, { dockerfile: path });
    const bytes = await readFile(join(this.dir, rel));
    return { text: bytes.toString('utf8'), digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
  }

  /**
   * What a COPY/ADD source names: one entry (a file, a symlink, a directory: `.` is the whole context)
   * or, with wildcards, every top-level match. Excluded paths do not exist for COPY.
   */
  select(source: string): ContextEntry[] {
    const path = cleanPath(source);
    if (path === '') return [{ path: '', type: 'dir', mode: 0o755, mtime: new Date(0), target: null }];
    if (hasGlob(path)) {
      const re = globToRegExp(path);
      const found = [...this.entries.values()].filter((e) => re.test(e.path));
      if (found.length === 0) throw notFound('COPY_SOURCE_NOT_FOUND', `no file in the build context matches "${source}" (or .dockerignore excludes it)`, { source });
      return found;
    }
    const entry = this.entries.get(path);
    if (!entry) throw notFound('COPY_SOURCE_NOT_FOUND', `"${source}" is not in the build context (or .dockerignore excludes it)`, { source });
    return [entry];
  }

  /** Everything under a directory of the context ('' for all), parents before children. */
  under(dir: string): ContextEntry[] {
    const prefix = dir === '' ? '' : `${dir}/`;
    return [...this.entries.values()].filter((e) => e.path.startsWith(prefix)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  abs(entry: ContextEntry): string {
    return join(this.dir, entry.path);
  }

  async fileDigest(entry: ContextEntry): Promise<string> {
    let digest = this.digests.get(entry.path);
    if (!digest) {
      const hash = createHash('sha256');
      await pipeline(createReadStream(this.abs(entry)), hash);
      digest = `sha256:${hash.digest('hex')}`;
      this.digests.set(entry.path, digest);
    }
    return digest;
  }
}

async function walk(root: string, rel: string, ignore: IgnoreRule[], out: Map<string, ContextEntry>): Promise<void> {
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const ignored = isIgnored(path, ignore);
    const stats = await lstat(join(root, path));
    if (stats.isDirectory()) {
      if (!ignored) out.set(path, { path, type: 'dir', mode: stats.mode & 0o7777, mtime: stats.mtime, target: null });
      // An excluded directory may still hold an exception (`!dir/keep`): look inside when any rule negates.
      if (!ignored || ignore.some((r) => r.negate)) await walk(root, path, ignore, out);
    } else if (!ignored && (stats.isFile() || stats.isSymbolicLink())) {
      out.set(path, { path, type: stats.isFile() ? 'file' : 'symlink', mode: stats.mode & 0o7777, mtime: stats.mtime, target: stats.isSymbolicLink() ? await readlink(join(root, path)) : null });
    }
  }
}
