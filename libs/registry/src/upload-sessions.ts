import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryError } from './errors.js';

export interface UploadSession {
  uuid: string;
  /** The repository the upload was started in: an upload id is not valid under another name. */
  name: string;
  /** Bytes received so far: the next chunk must start here. */
  offset: number;
  startedAt: string;
  /** The file holding the bytes so far; hashed once, when the upload completes. */
  dataPath: string;
}

interface SessionFile {
  name: string;
  startedAt: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Blob uploads in progress, kept on disk (`<dir>/<uuid>.json` + `<uuid>.data`) so an upload survives a
 * node restart and a client can resume it (GET gives the offset). Chunks are appended to the data file;
 * the digest is computed once at the end, when the bytes are streamed into the content store, which
 * verifies them: simpler than persisting a running hash state, and the blob is read once more only.
 * Operations on one upload are serialised in-process, so two PATCHes racing cannot interleave bytes.
 */
export class UploadSessions {
  private readonly locks = new Map<string, Promise<unknown>>();

  private constructor(
    readonly dir: string,
    private readonly ttlMs: number | null,
  ) {}

  /**
   * `ttlMs`: an upload that received no bytes for this long is expired: it answers BLOB_UPLOAD_UNKNOWN
   * from then on (and its files are removed on that first look), whether or not a sweep ran yet.
   */
  static async open(dir: string, options: { ttlMs?: number } = {}): Promise<UploadSessions> {
    await mkdir(dir, { recursive: true });
    return new UploadSessions(dir, options.ttlMs ?? null);
  }

  async create(name: string, now: Date = new Date()): Promise<UploadSession> {
    const uuid = randomUUID();
    const meta: SessionFile = { name, startedAt: now.toISOString() };
    await writeFile(this.dataPath(uuid), '', { flag: 'wx', mode: 0o600 });
    await writeFile(this.metaPath(uuid), JSON.stringify(meta), { flag: 'wx', mode: 0o600 });
    return { uuid, name, offset: 0, startedAt: meta.startedAt, dataPath: this.dataPath(uuid) };
  }

  /** The session, or BLOB_UPLOAD_UNKNOWN when it does not exist or belongs to another repository. */
  async get(name: string, uuid: string): Promise<UploadSession> {
    const unknown = () => new RegistryError('BLOB_UPLOAD_UNKNOWN', `no upload ${uuid} in progress for ${name}`, { uuid });
    if (!UUID.test(uuid)) throw unknown();
    let meta: SessionFile;
    let size: number;
    let touched: Date;
    try {
      meta = JSON.parse(await readFile(this.metaPath(uuid), 'utf8')) as SessionFile;
      ({ size, mtime: touched } = await stat(this.dataPath(uuid)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw unknown();
      throw error;
    }
    if (meta.name !== name) throw unknown();
    if (this.ttlMs !== null && touched.getTime() < Date.now() - this.ttlMs) {
      // Expired: gone for good, even if the sweep has not come by yet (callers hold this upload's lock or are reads).
      await this.removeFiles(uuid);
      throw unknown();
    }
    return { uuid, name, offset: size, startedAt: meta.startedAt, dataPath: this.dataPath(uuid) };
  }

  /**
   * Appends `body` to the upload. `expectedStart` (from Content-Range) must be the current offset:
   * chunks arrive in order or not at all (416, with the offset, so the client knows where to resume).
   * `maxBytes` caps the whole blob.
   */
  append(name: string, uuid: string, body: Readable, options: { expectedStart?: number; maxBytes?: number } = {}): Promise<UploadSession> {
    return this.locked(uuid, async () => {
      const session = await this.get(name, uuid);
      if (options.expectedStart !== undefined && options.expectedStart !== session.offset) {
        body.resume();
        throw new RegistryError('RANGE_INVALID', `chunk starts at ${options.expectedStart}, but the upload holds ${session.offset} bytes`, {
          offset: session.offset,
        });
      }
      let written = session.offset;
      const max = options.maxBytes;
      const counted = async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          written += chunk.length;
          if (max !== undefined && written > max) {
            throw new RegistryError('SIZE_INVALID', `the blob is larger than the limit of ${max} bytes`, { limit: max }, 413);
          }
          yield chunk;
        }
      };
      // 1 MiB of room: the socket's 64 KiB chunks queue (and go out in one writev) while a write is in flight,
      // instead of the upload pausing at every chunk for its thread-pool write (fs streams buffer 16 KiB by default).
      await pipeline(body, counted, createWriteStream(session.dataPath, { flags: 'a', highWaterMark: 1 << 20 }));
      return { ...session, offset: written };
    });
  }

  /** Runs `work` on the session while no other operation on it can run, then removes it (used to complete). */
  finish<T>(name: string, uuid: string, work: (session: UploadSession) => Promise<T>): Promise<T> {
    return this.locked(uuid, async () => {
      const session = await this.get(name, uuid);
      try {
        return await work(session);
      } finally {
        await this.removeFiles(uuid);
      }
    });
  }

  async remove(name: string, uuid: string): Promise<void> {
    await this.locked(uuid, async () => {
      await this.get(name, uuid);
      await this.removeFiles(uuid);
    });
  }

  /** Uploads that received no bytes since `olderThan` (abandoned by their client): removed; returns how many. */
  async removeStale(olderThan: Date): Promise<number> {
    let removed = 0;
    for (const file of await readdir(this.dir)) {
      if (!file.endsWith('.json')) continue;
      const uuid = file.slice(0, -'.json'.length);
      try {
        // The data file's mtime moves with every chunk: a slow but live upload is never swept.
        if ((await stat(this.dataPath(uuid))).mtime < olderThan) {
          await this.locked(uuid, () => this.removeFiles(uuid));
          removed++;
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return removed;
  }

  private async removeFiles(uuid: string): Promise<void> {
    await rm(this.metaPath(uuid), { force: true });
    await rm(this.dataPath(uuid), { force: true });
  }

  private locked<T>(uuid: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(uuid) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    this.locks.set(uuid, run);
    const forget = () => {
      if (this.locks.get(uuid) === run) this.locks.delete(uuid);
    };
    run.then(forget, forget);
    return run;
  }

  private metaPath(uuid: string): string {
    return join(this.dir, `${uuid}.json`);
  }

  private dataPath(uuid: string): string {
    return join(this.dir, `${uuid}.data`);
  }
}
