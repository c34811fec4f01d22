import type { MirrorAddedData } from '@strata/domain';
import { RegistryClient, RegistryClientError, type RegistryCredentials } from '@strata/registry';
import { readSse } from './sse.js';

/** What a worker does to this node: read the local tags, pull one tag, untag one. */
export interface MirrorSink {
  /** The local repository's tags now (read from the log): tag → manifest digest. */
  localTags(repository: string): Promise<Record<string, string>>;
  /** Pulls `<registry>/<repository>@<digest>` and tags it `<localRepository>:<tag>`; returns the local manifest digest. */
  pull(mirror: MirrorAddedData, registry: string, tag: string, digest: string, credentials: RegistryCredentials | null, commandId: string): Promise<string>;
  /** Removes `<localRepository>:<tag>` (nothing if it is already gone). */
  untag(mirror: MirrorAddedData, tag: string, commandId: string): Promise<void>;
}

export interface MirrorWorkerOptions {
  credentials: RegistryCredentials | null;
  positions: { get(id: string): number | null; set(id: string, position: number | null): void };
  sink: MirrorSink;
  log: (level: 'log' | 'warn', message: Record<string, unknown>) => void;
  userAgent: string;
  /** Between two full syncs when the source's event stream is refused (no admin access there). */
  pollIntervalMs?: number;
  /** First and largest wait before reconnecting after a failure (doubled each time). */
  backoffMs?: { initial: number; max: number };
  /** Silence on the event stream after which the connection is taken for dead (the source beats every 15 s). */
  idleMs?: number;
}

export type WorkerState = 'starting' | 'syncing' | 'following' | 'polling' | 'retrying' | 'stopped';

interface SourceEvent {
  type: string;
  streamId: string;
  position: number;
  data: { name?: string; tag?: string; digest?: string; tags?: Record<string, string> };
}

/**
 * Follows one mirrored repository: a full sync (the source's tags/list against the local tags), then
 * the source's event stream filtered to that repository's stream, resumed from the last position
 * handled. ImageTagged pulls that digest into the local tag (skipped when the local tag already points
 * at what that source digest gave), ImageUntagged and RepositoryDeleted untag. Failures reconnect with
 * a doubling, bounded backoff; a source that refuses its event stream (the mirror's principal is not
 * an administrator there) is polled with full syncs instead. stop() ends it between two steps.
 */
export class MirrorWorker {
  state: WorkerState = 'starting';
  lastError: string | null = null;
  lastSyncAt: string | null = null;
  pulled = 0;
  untagged = 0;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  /** tag → the source digest last applied and the local digest it gave (an index pulls as its platform's manifest). */
  private readonly applied = new Map<string, { source: string; local: string }>();
  private readonly registry: string;
  private readonly insecure: boolean;

  constructor(
    readonly mirror: MirrorAddedData,
    private readonly options: MirrorWorkerOptions,
  ) {
    const url = new URL(mirror.source);
    this.registry = url.host;
    this.insecure = url.protocol === 'http:';
  }

  get position(): number | null {
    return this.options.positions.get(this.mirror.id);
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    this.state = 'stopped';
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async loop(): Promise<void> {
    const { initial, max } = this.options.backoffMs ?? { initial: 500, max: 30_000 };
    let backoff = initial;
    while (!this.stopped) {
      let wait: number;
      try {
        const polled = await this.cycle();
        backoff = initial;
        wait = polled ? (this.options.pollIntervalMs ?? 5_000) : initial;
      } catch (error) {
        if (this.stopped) break;
        this.state = 'retrying';
        this.lastError = error instanceof Error ? error.message : String(error);
        this.options.log('warn', { msg: 'mirror failed, retrying', mirror: this.mirror.id, error: this.lastError, retryInMs: backoff });
        wait = backoff;
        backoff = Math.min(backoff * 2, max);
      }
      await this.sleep(wait);
    }
    this.state = 'stopped';
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }

  /** One connection to the source's event stream; true when it was refused and a poll (full sync) was done instead. */
  private async cycle(): Promise<boolean> {
    const { credentials } = this.options;
    const position = this.position;
    const query = new URLSearchParams({ stream: `repository-${this.mirror.repository}` });
    const headers: Record<string, string> = { accept: 'text/event-stream', 'user-agent': this.options.userAgent };
    if (credentials) headers.authorization = `Bearer ${credentials.password}`;
    if (position !== null) headers['last-event-id'] = String(position);
    let response: Response;
    try {
      response = await fetch(`${this.mirror.source}/events/stream?${query}`, { headers, signal: this.abort.signal });
    } catch (error) {
      throw new Error(`cannot reach ${this.mirror.source}: ${(error as Error).message}`, { cause: error });
    }
    if (response.status === 401 || response.status === 403 || response.status === 404) {
      await response.body?.cancel();
      this.state = 'syncing';
      await this.sync();
      this.state = 'polling';
      this.lastError = null;
      return true;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(`${this.mirror.source}/events/stream answered ${response.status}`);
    }
    for await (const item of readSse(response.body, this.options.idleMs ?? 45_000)) {
      if (this.stopped) return false;
      if (item.kind === 'comment') {
        // The first comment says where the stream starts: with no position yet, sync once and start from there.
        const from = /^following from position (\d+)$/.exec(item.text);
        if (from && this.position === null) {
          this.state = 'syncing';
          await this.sync();
          this.options.positions.set(this.mirror.id, Number(from[1]));
        }
        if (from) {
          this.state = 'following';
          this.lastError = null;
        }
        continue;
      }
      if (item.event === 'resync') {
        // The source's log is not the one our position came from (replaced, or trimmed): start over.
        this.options.log('warn', { msg: 'source asks for a resync', mirror: this.mirror.id, notice: item.data });
        this.options.positions.set(this.mirror.id, null);
        return false;
      }
      const event = JSON.parse(item.data) as SourceEvent;
      await this.apply(event);
      this.options.positions.set(this.mirror.id, event.position);
    }
    return false;
  }

  private async apply(event: SourceEvent): Promise<void> {
    if (event.streamId !== `repository-${this.mirror.repository}`) return;
    const commandId = `mirror-${this.mirror.id}-${event.position}`;
    if (event.type === 'ImageTagged' && event.data.tag && event.data.digest) {
      await this.ensureTag(event.data.tag, event.data.digest, commandId, await this.options.sink.localTags(this.mirror.localRepository));
    } else if (event.type === 'ImageUntagged' && event.data.tag) {
      await this.untag(event.data.tag, commandId, await this.options.sink.localTags(this.mirror.localRepository));
    } else if (event.type === 'RepositoryDeleted') {
      const local = await this.options.sink.localTags(this.mirror.localRepository);
      for (const tag of Object.keys(event.data.tags ?? {})) await this.untag(tag, `${commandId}-${tag}`, local);
    }
  }

  /** Every tag of the source now, compared with the local repository: pull what differs, untag what is gone. */
  private async sync(): Promise<void> {
    const client = new RegistryClient({ registry: this.registry, insecure: this.insecure, credentials: this.options.credentials, userAgent: this.options.userAgent });
    let tags: string[];
    try {
      tags = await client.tags(this.mirror.repository);
    } catch (error) {
      if (error instanceof RegistryClientError && error.code === 'NAME_UNKNOWN') tags = [];
      else throw error;
    }
    const local = await this.options.sink.localTags(this.mirror.localRepository);
    const run = `mirror-${this.mirror.id}-sync-${Date.now().toString(36)}`;
    for (const tag of tags) {
      if (this.stopped) return;
      let digest: string;
      try {
        digest = (await client.getManifest(this.mirror.repository, tag)).digest;
      } catch (error) {
        if (error instanceof RegistryClientError && error.code === 'MANIFEST_UNKNOWN') continue; // untagged meanwhile
        throw error;
      }
      await this.ensureTag(tag, digest, `${run}-${tag}`, local);
    }
    const remote = new Set(tags);
    for (const tag of Object.keys(local)) if (!remote.has(tag)) await this.untag(tag, `${run}-untag-${tag}`, local);
    this.lastSyncAt = new Date().toISOString();
  }

  private async ensureTag(tag: string, digest: string, commandId: string, local: Record<string, string>): Promise<void> {
    const applied = this.applied.get(tag);
    if (local[tag] === digest || (applied?.source === digest && local[tag] === applied.local)) return; // already here: never pulled twice
    let localDigest: string;
    try {
      localDigest = await this.options.sink.pull(this.mirror, this.registry, tag, digest, this.options.credentials, commandId);
    } catch (error) {
      // The source no longer has it (deleted after this event): a later event or sync says what is there now.
      if (isGone(error)) {
        this.options.log('warn', { msg: 'mirrored image is gone from the source', mirror: this.mirror.id, tag, digest });
        return;
      }
      throw error;
    }
    this.applied.set(tag, { source: digest, local: localDigest });
    local[tag] = localDigest;
    this.pulled += 1;
    this.options.log('log', { msg: 'mirrored', mirror: this.mirror.id, tag: `${this.mirror.localRepository}:${tag}`, digest });
  }

  private async untag(tag: string, commandId: string, local: Record<string, string>): Promise<void> {
    if (local[tag] === undefined) return;
    await this.options.sink.untag(this.mirror, tag, commandId);
    delete local[tag];
    this.applied.delete(tag);
    this.untagged += 1;
    this.options.log('log', { msg: 'mirror untagged', mirror: this.mirror.id, tag: `${this.mirror.localRepository}:${tag}` });
  }
}

function isGone(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'MANIFEST_UNKNOWN' || code === 'NAME_UNKNOWN';
}
