import { createReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { BlobInfo, ContentStore, PutOptions } from '../content/port.js';
import { layerInvalid, layerNotFound } from '../errors.js';
import { archivePath } from './archive-paths.js';

/** What the caller knows about a file before reading it: the digest its name or a descriptor gives. */
export interface ExpectedBlob {
  digest?: string;
  size?: number;
}

/**
 * The files of an image archive, however it arrived. The format readers (OCI layout, docker save) see
 * only this: small JSON files by path, and big files moved into the content store by path.
 */
export interface ArchiveFiles {
  /** "directory /x" or "archive stream", for messages. */
  readonly description: string;
  has(path: string): Promise<boolean>;
  /** A small file whole (JSON), undefined if absent; SIZE_LIMIT over the cap. */
  readSmall(path: string): Promise<Buffer | undefined>;
  /** The file, in the content store: DIGEST_MISMATCH / SIZE_MISMATCH against `expected`, BLOB_UNKNOWN if absent. */
  putBlob(path: string, expected?: ExpectedBlob): Promise<BlobInfo>;
}

export interface ArchiveLimits {
  maxJsonBytes: number;
  maxBlobBytes: number;
}

export interface StoreContext extends ArchiveLimits {
  store: ContentStore;
  lease?: PutOptions['lease'];
  /** Called with the size of every blob that reaches the store. */
  onBlob: (info: BlobInfo) => void;
}

/** An OCI layout or extracted `docker save` in a local directory; files are read only when referenced. */
export class DirArchiveFiles implements ArchiveFiles {
  readonly description: string;

  private constructor(
    private readonly root: string,
    private readonly context: StoreContext,
  ) {
    this.description = `directory ${root}`;
  }

  static async open(dir: string, context: StoreContext): Promise<DirArchiveFiles> {
    try {
      const root = await realpath(dir);
      if (!(await stat(root)).isDirectory()) throw layerInvalid('LAYOUT_INVALID', `${dir} is not a directory`);
      return new DirArchiveFiles(root, context);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw layerInvalid('LAYOUT_INVALID', `${dir} does not exist`);
      throw error;
    }
  }

  async has(path: string): Promise<boolean> {
    return (await this.resolve(path)) !== undefined;
  }

  async readSmall(path: string): Promise<Buffer | undefined> {
    const file = await this.resolve(path);
    if (file === undefined) return undefined;
    const handle = await open(file, 'r');
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw layerInvalid('LAYOUT_INVALID', `${path} in ${this.description} is not a regular file`);
      if (stats.size > this.context.maxJsonBytes) throw layerInvalid('SIZE_LIMIT', `${path} is ${stats.size} bytes, over the ${this.context.maxJsonBytes} allowed for a JSON document`);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  async putBlob(path: string, expected: ExpectedBlob = {}): Promise<BlobInfo> {
    const file = await this.resolve(path);
    if (file === undefined) throw layerNotFound('BLOB_UNKNOWN', `${path} is missing from ${this.description}`, { path });
    if (!(await stat(file)).isFile()) throw layerInvalid('LAYOUT_INVALID', `${path} in ${this.description} is not a regular file`);
    // The size is checked after the digest: a file that is not what its name says is DIGEST_MISMATCH,
    // a descriptor that misstates the size of the right file is SIZE_MISMATCH (as for a tar stream).
    const info = await this.context.store.put(createReadStream(file), {
      expectedDigest: expected.digest,
      maxSize: this.context.maxBlobBytes,
      lease: this.context.lease,
    });
    this.context.onBlob(info);
    if (expected.size !== undefined && info.size !== expected.size) {
      throw layerInvalid('SIZE_MISMATCH', `${path} is ${info.size} bytes, but its descriptor says ${expected.size}`, { path, expected: expected.size, actual: info.size });
    }
    return info;
  }

  /**
   * The real path of an archive file, undefined if absent. Symlinks inside the directory are followed
   * (docker save links duplicate layers), but never out of it: LINK_ESCAPE.
   */
  private async resolve(path: string): Promise<string | undefined> {
    const relative = archivePath(path);
    let real: string;
    try {
      real = await realpath(join(this.root, relative));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      if (code === 'ELOOP') throw layerInvalid('LINK_ESCAPE', `${path} in ${this.description} is a symlink loop`);
      throw error;
    }
    if (real !== this.root && !real.startsWith(this.root + sep)) {
      throw layerInvalid('LINK_ESCAPE', `${path} in ${this.description} is a symlink to ${real}, outside the directory`, { path });
    }
    return real;
  }
}
