import { createHash } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Which blobs were uploaded into (or mounted into) which repository, like the distribution registry's
 * per-repository links. The content store is one pool for the whole node; without these a principal
 * allowed to push to one repository could HEAD, reference and then pull any blob of a private
 * repository it cannot read, just by knowing its digest. An upload proves possession (the bytes were
 * verified against the digest), so it links the blob to the repository it was uploaded into.
 * `<dir>/<sha256 of the name>/<hex of the digest>`: empty files, one per link.
 */
export class RepositoryLinks {
  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<RepositoryLinks> {
    await mkdir(dir, { recursive: true });
    return new RepositoryLinks(dir);
  }

  async link(name: string, digest: string): Promise<void> {
    await mkdir(this.repositoryDir(name), { recursive: true });
    await writeFile(this.path(name, digest), '');
  }

  async has(name: string, digest: string): Promise<boolean> {
    try {
      await stat(this.path(name, digest));
      return true;
    } catch {
      return false;
    }
  }

  /** True when there was a link to remove. */
  async unlink(name: string, digest: string): Promise<boolean> {
    const had = await this.has(name, digest);
    await rm(this.path(name, digest), { force: true });
    return had;
  }

  private repositoryDir(name: string): string {
    return join(this.dir, createHash('sha256').update(name).digest('hex'));
  }

  private path(name: string, digest: string): string {
    const hex = digest.slice(digest.indexOf(':') + 1);
    if (!/^[a-f0-9]{64}$/.test(hex)) throw new Error(`not a sha256 digest: ${digest}`);
    return join(this.repositoryDir(name), hex);
  }
}
