import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ContainerView, FileChangeView, ImageView, ProjectionsReply, ReplayProgress, ReplayResult, RepositoryView, TagMoveView, TagView } from '@strata/api';
import { invalid, type EventEnvelope } from '@strata/domain';
import type { EventStore, Subscription } from '@strata/eventstore';
import { catchUp } from './catch-up.js';
import type { ChecksumOptions } from './checksum.js';
import { removeDatabaseFiles, replaceDatabaseFile, startFlush } from './database-files.js';
import type { EventFilter } from './event-filter.js';
import { PROJECTORS } from './projectors/index.js';
import type { Projector } from './projectors/projector.js';
import { ReadDatabase } from './read-database.js';
import type { ContainerCounts, EventPage, ReadModel } from './read-model.js';
import { SqliteReadModel } from './sqlite-read-model.js';
import { TimeTravelReadModel } from './time-travel.js';

/** Nest's LoggerService fits. */
export interface ProjectionLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string, trace?: string): void;
}

export interface ProjectionEngineOptions {
  /** Path of read.db; a replay builds `<path>.replay` next to it, a fresh read.db `<path>.build`. */
  path: string;
  store: EventStore;
  /** Events per transaction while following (default 500). */
  batchSize?: number;
  /**
   * Events per transaction of a build from position 0 into a scratch file (replay, a fresh read.db,
   * time travel); nobody waits on its batches, so bigger ones cost less per event (default 2000).
   */
  rebuildBatchSize?: number;
  /**
   * A read.db where no projector has applied anything, with the log's head at least this far ahead, is
   * built the way replay builds (scratch file, indexes after the load, then swapped in) rather than row
   * by row in place (default 10,000 positions; Infinity: never).
   */
  buildFreshFrom?: number;
  logger?: ProjectionLogger;
  /** Default: PROJECTORS. */
  projectors?: readonly Projector[];
  /** After a failed batch, following restarts from the checkpoint after this delay (default 1000 ms). */
  retryDelayMs?: number;
}

/** `?at=`: a log position, or an ISO time (resolved to the last position at or before it). */
export type TimeTravelPoint = { position: number } | { time: string };

/** What replay() returns: POST /admin/replay's last line without its `kind`. */
export type ReplaySummary = Omit<ReplayResult, 'kind'>;

export class ReplayInProgressError extends Error {
  readonly code = 'REPLAY_IN_PROGRESS';
  constructor() {
    super('a replay is already running');
    this.name = 'ReplayInProgressError';
  }
}

interface Follower {
  stopped: boolean;
  subscription: Subscription | null;
  done: Promise<void>;
}

interface Waiter {
  position: number;
  resolve(reached: boolean): void;
  timer: NodeJS.Timeout;
}

const IDLE = Symbol('idle');

const defaultLogger: ProjectionLogger = {
  log: () => {},
  warn: (message) => console.warn(message),
  error: (message, trace) => console.error(message, trace ?? ''),
};

/**
 * Keeps read.db up to date with the event log: catches up from its checkpoints in batches, then
 * follows the store's subscription live, one transaction per batch (rows + checkpoints). Answers the
 * read-model queries (ReadModel), waits for positions (read-your-writes), rebuilds everything from 0
 * (replay) and builds snapshots of the past (time travel).
 */
export class ProjectionEngine implements ReadModel {
  private readonly store: EventStore;
  private readonly path: string;
  private readonly batchSize: number;
  private readonly rebuildBatchSize: number;
  private readonly buildFreshFrom: number;
  private readonly logger: ProjectionLogger;
  private readonly projectors: readonly Projector[];
  private readonly retryDelayMs: number;
  private view: SqliteReadModel;
  /** Pending while a replay swaps files: queries wait for it instead of meeting a closed database. */
  private swapping: Promise<void> = Promise.resolve();
  private running = false;
  private closed = false;
  private follower: Follower | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<Waiter>();
  private replayRun: Promise<unknown> | null = null;
  /** A fresh read.db being built in a scratch file (the follower's and catchUp()'s, shared). */
  private freshBuild: Promise<void> | null = null;
  /** A fresh build failed once: not tried again (each retry would start from 0), catch-up goes row by row. */
  private freshBuildFailed = false;
  /** The last error that stopped following (null once a batch applies again). */
  lastError: Error | null = null;

  static async open(options: ProjectionEngineOptions): Promise<ProjectionEngine> {
    const projectors = options.projectors ?? PROJECTORS;
    const open = () => ReadDatabase.open({ path: options.path, projectors, mode: 'live' });
    let db: ReadDatabase;
    try {
      db = await open();
    } catch (error) {
      // read.db is disposable: one we cannot open (damaged, or a schema this version cannot migrate)
      // is thrown away and rebuilt from the log rather than keeping the node from starting.
      (options.logger ?? defaultLogger).warn(
        `read models at ${options.path} cannot be opened (${error instanceof Error ? error.message : String(error)}); rebuilding them from the log`,
      );
      await removeDatabaseFiles(options.path);
      db = await open();
    }
    return new ProjectionEngine(options, projectors, db);
  }

  private constructor(
    options: ProjectionEngineOptions,
    projectors: readonly Projector[],
    private db: ReadDatabase,
  ) {
    this.store = options.store;
    this.path = options.path;
    this.batchSize = options.batchSize ?? 500;
    this.rebuildBatchSize = options.rebuildBatchSize ?? 2000;
    this.buildFreshFrom = options.buildFreshFrom ?? 10_000;
    this.logger = options.logger ?? defaultLogger;
    this.projectors = projectors;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.view = new SqliteReadModel(db);
  }

  // ---- following the log ----------------------------------------------------------------------------

  /** Starts following the log (catch-up, then live). Returns at once; use waitFor() to know when. */
  start(): void {
    if (this.closed) throw new Error('projection engine is closed');
    if (this.running) return;
    this.running = true;
    this.logger.log(`projections start at position ${this.position()}`);
    this.follow();
  }

  /** Stops following; what is applied stays applied. start() resumes from the checkpoints. */
  async stop(): Promise<void> {
    this.running = false;
    await this.halt();
  }

  /** Applies everything up to the log's current head now (also when not started). */
  async catchUp(): Promise<number> {
    const built = await this.buildIfFresh();
    return built + (await catchUp(this.store, this.db, { batchSize: this.batchSize, onBatch: () => this.applied() }));
  }

  private follow(): void {
    const follower: Follower = { stopped: false, subscription: null, done: Promise.resolve() };
    follower.done = this.runFollower(follower).catch((error: unknown) => this.followerFailed(follower, error));
    this.follower = follower;
  }

  private async runFollower(f: Follower): Promise<void> {
    // A fresh read.db facing a long log is built aside and swapped in; a long backlog is read in plain batches…
    await this.buildIfFresh(() => f.stopped);
    if (f.stopped) return;
    await catchUp(this.store, this.db, { batchSize: this.batchSize, onBatch: () => this.applied(), shouldStop: () => f.stopped });
    if (f.stopped) return;
    // …then the subscription delivers new events as they are appended.
    const subscription = this.store.subscribe(this.db.position());
    f.subscription = subscription;
    const events = subscription[Symbol.asyncIterator]();
    const pull = () => {
      const next = events.next();
      next.catch(() => {}); // an abandoned pull (we stopped) must not become an unhandled rejection
      return next;
    };
    const pending: EventEnvelope[] = [];
    let idle: Promise<typeof IDLE> | null = null;
    let next = pull();
    try {
      while (!f.stopped) {
        // Events the subscription has ready arrive within microtasks; when the next one is not ready
        // by the next turn of the event loop, what is pending is applied: batches form by themselves.
        let result: IteratorResult<EventEnvelope> | typeof IDLE;
        if (pending.length === 0) result = await next;
        else {
          idle ??= nextTurn(IDLE).then((value) => {
            idle = null;
            return value;
          });
          result = await Promise.race([next, idle]);
        }
        if (result === IDLE) {
          this.apply(pending.splice(0));
          continue;
        }
        if (result.done) break;
        pending.push(result.value);
        next = pull();
        if (pending.length >= this.batchSize) {
          this.apply(pending.splice(0));
          await nextTurn();
        }
      }
      this.apply(pending.splice(0));
      // A subscription is endless: one that ended by itself lost its source; follow again from the checkpoint.
      if (!f.stopped) throw new Error('the log subscription ended');
    } finally {
      await subscription.close();
    }
  }

  private followerFailed(f: Follower, error: unknown): void {
    this.lastError = error instanceof Error ? error : new Error(String(error));
    this.logger.error(
      `projections stopped at position ${this.position()}: ${this.lastError.message}; retrying in ${this.retryDelayMs} ms`,
      this.lastError.stack,
    );
    if (!this.running || f.stopped) return;
    this.retryTimer = setTimeout(() => {
      if (this.running && this.follower === f && !f.stopped) this.follow();
    }, this.retryDelayMs);
    this.retryTimer.unref();
  }

  /** Stops the follower and waits until it has applied what it held. */
  private async halt(): Promise<void> {
    clearTimeout(this.retryTimer);
    const f = this.follower;
    if (!f) return;
    f.stopped = true;
    await f.subscription?.close();
    await f.done;
    if (this.follower === f) this.follower = null;
  }

  private apply(events: EventEnvelope[]): void {
    if (events.length === 0) return;
    this.db.applyBatch(events);
    this.applied();
  }

  /** After each committed batch, whichever path applied it. */
  private applied(): void {
    this.lastError = null;
    this.wake();
  }

  // ---- positions ------------------------------------------------------------------------------------

  /** The position every projection has reached. */
  position(): number {
    return this.db.position();
  }

  /** Resolves true once every projection has reached `position`, false after `timeoutMs`. */
  /** The log's head position now (what waitFor(head) waits for). */
  head(): Promise<number> {
    return this.store.head();
  }

  waitFor(position: number, timeoutMs: number): Promise<boolean> {
    if (this.position() >= position) return Promise.resolve(true);
    if (this.closed || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        position,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  private wake(): void {
    const reached = this.position();
    for (const waiter of this.waiters) {
      if (waiter.position > reached) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve(true);
    }
  }

  /** Each projection's position and lag behind the log's head (GET /admin/projections). */
  async status(): Promise<ProjectionsReply> {
    const head = await this.store.head();
    return {
      head,
      projections: this.db.projectorPositions().map(({ name, position }) => ({ name, position, lag: Math.max(0, head - position) })),
    };
  }

  // ---- replay ---------------------------------------------------------------------------------------

  /**
   * Rebuilds every read model from position 0 into `<path>.replay` while queries keep answering from
   * read.db, then swaps it in. Both checksums are taken at one position (live following pauses for
   * the last stretch), so they are equal exactly when the projections are deterministic.
   */
  replay(onProgress?: (progress: ReplayProgress) => void): Promise<ReplaySummary> {
    if (this.closed) return Promise.reject(new Error('projection engine is closed'));
    if (this.replayRun) return Promise.reject(new ReplayInProgressError());
    const run = this.runReplay(onProgress).finally(() => {
      this.replayRun = null;
    });
    this.replayRun = run;
    return run;
  }

  private async runReplay(onProgress?: (progress: ReplayProgress) => void): Promise<ReplaySummary> {
    const started = performance.now();
    const scratchPath = `${this.path}.replay`;
    let head = await this.store.head();
    let events = 0;
    const report = (position: number, applied: number) => {
      head = Math.max(head, position);
      onProgress?.({ kind: 'progress', position, head, events: events + applied });
    };
    report(0, 0);
    const built = await this.buildScratch(scratchPath, { onBatch: report });
    let fresh: ReadDatabase | null = built.db;
    events += built.events;
    try {
      await this.halt();
      try {
        const target = await this.store.head();
        head = Math.max(head, target);
        await catchUp(this.store, this.db, { batchSize: this.batchSize, until: target, onBatch: () => this.applied() });
        events += await catchUp(this.store, fresh, { batchSize: this.batchSize, until: target, onBatch: report });
        // Both at once: the rebuilt file's on a worker thread, read.db's here (~0.7 s each at 200k events),
        // while the rebuilt file's last pages (its indexes) go to disk.
        const flush = await startFlush(scratchPath);
        const aside = fresh.checksumAside();
        aside.catch(() => {}); // awaited below; a failure must not go unhandled while this thread hashes
        const checksumBefore = this.db.checksum();
        const checksumAfter = await aside;
        await flush.done;
        const rebuilt = fresh;
        fresh = null;
        await this.swapIn(rebuilt, scratchPath);
        this.logger.log(`replay: ${events} events, read models ${checksumBefore === checksumAfter ? 'identical' : 'DIFFERENT'}`);
        return { checksumBefore, checksumAfter, events, seconds: (performance.now() - started) / 1000 };
      } finally {
        if (this.running && !this.closed) this.follow();
      }
    } finally {
      if (fresh) {
        await fresh.close().catch(() => {});
        await removeDatabaseFiles(scratchPath).catch(() => {});
      }
    }
  }

  /**
   * Every read model from position 0 into a new file at `scratchPath` (what a build that died left
   * there is removed first): no WAL, no fsync, secondary indexes made after the load, big batches.
   * Returns it with its indexes made; when `shouldStop` ended it early, as far as it got (the caller
   * throws it away). On an error the file is removed.
   */
  private async buildScratch(
    scratchPath: string,
    options: { onBatch?: (position: number, events: number) => void; shouldStop?: () => boolean } = {},
  ): Promise<{ db: ReadDatabase; events: number }> {
    await removeDatabaseFiles(scratchPath);
    const db = await ReadDatabase.open({ path: scratchPath, projectors: this.projectors, mode: 'scratch', deferIndexes: true });
    try {
      const events = await catchUp(this.store, db, { batchSize: this.rebuildBatchSize, onBatch: options.onBatch, shouldStop: options.shouldStop });
      if (!options.shouldStop?.()) {
        // The loaded tables (~70% of the file) go to disk while the indexes are made.
        const flush = await startFlush(scratchPath);
        try {
          db.finishLoad();
        } finally {
          await flush.done;
        }
      }
      return { db, events };
    } catch (error) {
      await db.close().catch(() => {});
      await removeDatabaseFiles(scratchPath).catch(() => {});
      throw error;
    }
  }

  /**
   * When no projector of read.db has applied anything and the log is long (buildFreshFrom), builds the
   * read models in `<path>.build` and swaps that in (as replay does: a crash leaves the empty read.db
   * or the whole new one). Queries meanwhile answer from the empty read.db, as during any catch-up.
   * Returns the events applied (0 when it did not build, or was stopped).
   */
  private async buildIfFresh(shouldStop: () => boolean = () => false): Promise<number> {
    if (this.freshBuildFailed || !this.db.isEmpty()) return 0;
    if (!this.freshBuild) {
      const head = await this.store.head();
      if (head === 0 || head < this.buildFreshFrom) return 0;
    }
    if (this.freshBuild || !this.db.isEmpty()) {
      await this.freshBuild; // another caller is building it (follower and catchUp() share one build)
      return 0;
    }
    let events = 0;
    const build = (async () => {
      const scratchPath = `${this.path}.build`;
      const stop = () => this.closed || shouldStop();
      this.logger.log(`read models are empty and the log is long: building them in ${scratchPath}`);
      const built = await this.buildScratch(scratchPath, { shouldStop: stop });
      if (stop()) {
        await built.db.close().catch(() => {});
        await removeDatabaseFiles(scratchPath).catch(() => {});
        return;
      }
      await this.swapIn(built.db, scratchPath);
      events = built.events;
      this.logger.log(`read models built: ${events} events, position ${this.position()}`);
      this.applied();
    })();
    this.freshBuild = build
      .catch((error: unknown) => {
        this.freshBuildFailed = true;
        throw error;
      })
      .finally(() => {
        this.freshBuild = null;
      });
    await this.freshBuild;
    return events;
  }

  private async swapIn(rebuilt: ReadDatabase, rebuiltPath: string): Promise<void> {
    let reopened!: () => void;
    this.swapping = new Promise((resolve) => (reopened = resolve));
    try {
      await rebuilt.close();
      await this.db.close();
      await replaceDatabaseFile(rebuiltPath, this.path);
      this.db = await ReadDatabase.open({ path: this.path, projectors: this.projectors, mode: 'live' });
    } catch (error) {
      // Whichever file is in place now (old or new) is whole: keep serving from it.
      this.db = await ReadDatabase.open({ path: this.path, projectors: this.projectors, mode: 'live' });
      throw error;
    } finally {
      this.view = new SqliteReadModel(this.db);
      reopened();
    }
  }

  // ---- time travel ----------------------------------------------------------------------------------

  /** The log position a `?at=` means; positions beyond the head mean the head. */
  async resolvePosition(point: TimeTravelPoint): Promise<number> {
    if ('position' in point) {
      if (!Number.isSafeInteger(point.position) || point.position < 0) {
        throw invalid('INVALID_POSITION', 'a position is a non-negative integer', { position: point.position });
      }
      return Math.min(point.position, await this.store.head());
    }
    const ms = Date.parse(point.time);
    if (Number.isNaN(ms)) throw invalid('INVALID_TIME', 'a time is ISO-8601, e.g. 2025-01-31T10:32:00Z', { time: point.time });
    return this.store.positionAt(new Date(ms).toISOString());
  }

  /** The read models as they were at a position or time; close() the result after use. */
  async at(point: TimeTravelPoint): Promise<TimeTravelReadModel> {
    const position = await this.resolvePosition(point);
    return TimeTravelReadModel.build(this.store, this.projectors, position, this.rebuildBatchSize);
  }

  // ---- queries (ReadModel) --------------------------------------------------------------------------

  /** The live read models. The engine itself: it always asks whichever read.db is current. */
  readModel(): ReadModel {
    return this;
  }

  async listRepositories(): Promise<RepositoryView[]> {
    await this.swapping;
    return this.view.listRepositories();
  }
  async getRepository(name: string): Promise<RepositoryView | null> {
    await this.swapping;
    return this.view.getRepository(name);
  }
  async listTags(name: string): Promise<TagView[]> {
    await this.swapping;
    return this.view.listTags(name);
  }
  async tagHistory(name: string, tag?: string): Promise<TagMoveView[]> {
    await this.swapping;
    return this.view.tagHistory(name, tag);
  }
  async tagAt(name: string, tag: string, position: number): Promise<TagMoveView | null> {
    await this.swapping;
    return this.view.tagAt(name, tag, position);
  }
  async listImages(): Promise<ImageView[]> {
    await this.swapping;
    return this.view.listImages();
  }
  async getImage(manifestDigest: string): Promise<ImageView | null> {
    await this.swapping;
    return this.view.getImage(manifestDigest);
  }
  async findImagesByPrefix(prefix: string): Promise<ImageView[]> {
    await this.swapping;
    return this.view.findImagesByPrefix(prefix);
  }
  async liveImageBlobs(): Promise<Set<string>> {
    await this.swapping;
    return this.view.liveImageBlobs();
  }
  async listContainers(all: boolean): Promise<ContainerView[]> {
    await this.swapping;
    return this.view.listContainers(all);
  }
  async getContainer(id: string): Promise<ContainerView | null> {
    await this.swapping;
    return this.view.getContainer(id);
  }
  async containerCountsByNode(): Promise<Map<string, ContainerCounts>> {
    await this.swapping;
    return this.view.containerCountsByNode();
  }
  async findContainers(ref: string): Promise<ContainerView[]> {
    await this.swapping;
    return this.view.findContainers(ref);
  }
  async containersUsingImage(manifestDigest: string): Promise<string[]> {
    await this.swapping;
    return this.view.containersUsingImage(manifestDigest);
  }
  async fileChanges(containerId: string, path?: string): Promise<FileChangeView[]> {
    await this.swapping;
    return this.view.fileChanges(containerId, path);
  }
  async queryEvents(filter: EventFilter = {}): Promise<EventPage> {
    await this.swapping;
    return this.view.queryEvents(filter);
  }
  async checksum(options: ChecksumOptions = {}): Promise<string> {
    await this.swapping;
    return this.view.checksum(options);
  }

  /** Stops following and closes read.db; pending waitFor()s resolve false. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    await this.replayRun?.catch(() => {});
    await this.halt();
    await this.freshBuild?.catch(() => {});
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(false);
    }
    this.waiters.clear();
    await this.swapping;
    await this.db.close();
  }
}
