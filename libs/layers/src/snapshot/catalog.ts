import { mkdir, open, readdir, readFile, realpath, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { layerConflict, layerNotFound, layerUnavailable } from '../errors.js';
import { mountsUsing } from './mountinfo.js';
import type { SnapshotInfo, SnapshotKind } from './port.js';

/** What the catalog knows of a snapshot; its files are in `<root>/snapshots/<id>/`. */
export interface SnapshotRecord {
  key: string;
  id: number;
  kind: SnapshotKind;
  parent?: string;
  /** overlay, committed only: the layer's opaque directories, read once at commit (the layer never changes again). */
  opaque?: string[];
}

interface CatalogFile {
  /** 1: written by Strata before the journal (no `seq`, no journal); 2: a compaction, with the journal beside it. */
  version: 1 | 2;
  snapshotter: string;
  nextId: number;
  /** The last journal entry this file includes (entries at or below it are skipped on open). */
  seq?: number;
  snapshots: SnapshotRecord[];
}

/** One line of the journal: one change (a commit removes the active key and adds the committed one). */
interface JournalEntry {
  seq: number;
  nextId: number;
  del?: string[];
  put?: SnapshotRecord[];
}

const METADATA = 'metadata.json';
const JOURNAL = 'metadata.journal';
/** The journal is compacted once it holds this many entries, or twice the record count if that is more. */
const COMPACT_AFTER = 1000;

export interface SnapshotCatalogOptions {
  /** Entries the journal may hold before it is folded into metadata.json (at least; twice the record count if more). Tests lower it. */
  compactAfter?: number;
}

/**
 * The snapshots of one snapshotter: key → (short numeric id, kind, parent), kept in `<root>/metadata.json`
 * (a whole catalog, as of journal entry `seq`) and `<root>/metadata.journal` (one JSON line per change
 * since). Short ids keep overlay's lowerdir lists short; keys stay arbitrary strings (chainIDs, container ids).
 *
 * A change is one line appended to the journal and fsynced, so it costs the same whatever the catalog
 * holds; a crash leaves the old or the new catalog, never a torn one: a torn last line (the change that
 * was being written) is ignored on open. The journal is folded into a new metadata.json (temp file,
 * fsync, rename, fsync of the directory, then the journal emptied) on open and once it holds more than
 * COMPACT_AFTER entries or twice the record count, so compaction stays O(1) per change amortized; a crash
 * between the rename and the truncation leaves entries the new file already has, skipped by their `seq`.
 * A root with only a version-1 metadata.json (before the journal) opens; its first change rewrites it
 * as version 2, which a Strata without the journal refuses instead of ignoring the journal.
 *
 * Directories are created before the catalog names them and deleted after it forgets them: a crash
 * leaves at worst an unnamed directory, swept on the next open. Changes are serialized within the
 * process (checked, applied in memory and queued for the journal in one turn of the lock); their journal
 * lines are written in that order, and lines queued while an fsync runs go out together in the next
 * write (group commit): a change returns once its line is durable. A failed journal write leaves what
 * is on disk unknown: the catalog then refuses every further change (reopen it: the disk decides), and
 * leaves directories whose naming or forgetting failed to the sweep. One node owns one root (two
 * processes on it are not supported).
 */
export class SnapshotCatalog {
  private readonly records = new Map<string, SnapshotRecord>();
  /** Snapshots being built (a native copy can take a while): their keys are taken, their parents pinned. */
  private readonly building = new Map<string, string | undefined>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly journal: Journal;
  /** The last change queued (in memory: it may not be durable yet). */
  private seq: number;
  /** Entries in the journal (written or queued) since the last compaction. */
  private journalEntries = 0;
  /** metadata.json is a version-2 compaction (appending to the journal is only safe then). */
  private compacted: boolean;

  private constructor(
    readonly root: string,
    private readonly snapshotter: string,
    private nextId: number,
    seq: number,
    compacted: boolean,
    private readonly compactAfter: number,
  ) {
    this.seq = seq;
    this.compacted = compacted;
    this.journal = new Journal(root);
  }

  static async open(given: string, snapshotter: string, options: SnapshotCatalogOptions = {}): Promise<SnapshotCatalog> {
    await mkdir(join(given, 'snapshots'), { recursive: true });
    // Absolute and real: mount options and /proc/self/mountinfo both name real paths.
    const root = await realpath(given);
    const state = await readState(root);
    if (state.file && state.file.snapshotter !== snapshotter) {
      throw layerUnavailable('SNAPSHOTTER_UNAVAILABLE', `${root} holds ${state.file.snapshotter} snapshots, not ${snapshotter} ones`);
    }
    const catalog = new SnapshotCatalog(root, snapshotter, state.nextId, state.seq, state.file?.version === 2, options.compactAfter ?? COMPACT_AFTER);
    for (const record of state.records.values()) catalog.records.set(record.key, record);
    await catalog.sweep();
    // Entries (or a torn line) in the journal: fold them into metadata.json, so appends start on a clean line.
    if (state.journalBytes > 0) await catalog.journal.run(catalog.compaction());
    return catalog;
  }

  dirOf(record: SnapshotRecord): string {
    return join(this.root, 'snapshots', String(record.id));
  }

  find(key: string): SnapshotRecord | undefined {
    return this.records.get(key);
  }

  get(key: string): SnapshotRecord {
    const record = this.records.get(key);
    if (!record) throw layerNotFound('SNAPSHOT_NOT_FOUND', `no snapshot ${JSON.stringify(key)}`, { key });
    return record;
  }

  list(): SnapshotRecord[] {
    return [...this.records.values()];
  }

  /** The committed snapshots below `record`, nearest first (overlay's lowerdir order). */
  ancestors(record: SnapshotRecord): SnapshotRecord[] {
    const chain: SnapshotRecord[] = [];
    for (let key = record.parent; key !== undefined; key = chain.at(-1)?.parent) chain.push(this.get(key));
    return chain;
  }

  /**
   * A new snapshot: its key is taken at once, `build` fills its directory outside the lock (a copy may be
   * slow), and only then does the catalog name it. A failed build leaves nothing behind.
   */
  async create(key: string, kind: SnapshotKind, parent: string | undefined, build: (dir: string) => Promise<void>): Promise<SnapshotRecord> {
    const record = await this.locked(async () => {
      checkKey(key);
      if (this.records.has(key) || this.building.has(key)) throw layerConflict('SNAPSHOT_EXISTS', `snapshot ${JSON.stringify(key)} already exists`, { key });
      if (parent !== undefined) {
        const base = this.get(parent);
        if (base.kind !== 'committed') {
          throw layerNotFound('SNAPSHOT_NOT_FOUND', `no committed snapshot ${JSON.stringify(parent)} (it is ${base.kind}; commit it first)`, { key: parent });
        }
      }
      this.building.set(key, parent);
      const built: SnapshotRecord = { key, id: this.nextId++, kind, ...(parent === undefined ? {} : { parent }) };
      return built;
    });
    const dir = this.dirOf(record);
    let written: Written;
    try {
      await mkdir(dir);
      await build(dir);
      written = await this.locked(async () => {
        this.building.delete(key);
        return this.change({ put: [record] }, () => this.records.set(key, record));
      });
    } catch (error) {
      // Not named (the build failed, or a broken catalog refused the change before queuing it).
      this.building.delete(key);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    // If this fails, whether the journal names it is unknown: the directory stays (named, or swept on open).
    await written.durable;
    return record;
  }

  /** Active `key` becomes committed `name`, in place (same directory); `finish` adds what a committed record keeps. */
  async commit(name: string, key: string, finish?: (record: SnapshotRecord) => Promise<Partial<SnapshotRecord>>): Promise<void> {
    const written = await this.locked(async () => {
      const active = this.get(key);
      if (active.kind !== 'active') throw layerConflict('SNAPSHOT_NOT_ACTIVE', `snapshot ${JSON.stringify(key)} is ${active.kind}, not active: only an active snapshot can be committed`, { key });
      checkKey(name);
      if (this.records.has(name) || this.building.has(name)) throw layerConflict('SNAPSHOT_EXISTS', `snapshot ${JSON.stringify(name)} already exists`, { key: name });
      const committed: SnapshotRecord = { ...active, ...(await finish?.(active)), key: name, kind: 'committed' };
      return this.change({ del: [key], put: [committed] }, () => {
        this.records.delete(key);
        this.records.set(name, committed);
      });
    });
    await written.durable;
  }

  /** Forgets `key` and deletes its directory; refused while other snapshots are based on it or it is mounted. */
  async remove(key: string): Promise<void> {
    const { record, written } = await this.locked(async () => {
      const record = this.get(key);
      const children = [...this.records.values()].filter((r) => r.parent === key).map((r) => r.key);
      children.push(...[...this.building].filter(([, parent]) => parent === key).map(([child]) => child));
      if (children.length > 0) {
        throw layerConflict('SNAPSHOT_IN_USE', `snapshot ${JSON.stringify(key)} has children: ${children.map((c) => JSON.stringify(c)).join(', ')}`, { key, children });
      }
      const mounted = await mountsUsing(this.dirOf(record));
      if (mounted.length > 0) {
        throw layerConflict('SNAPSHOT_IN_USE', `snapshot ${JSON.stringify(key)} is mounted (${mounted.map((m) => m.mountPoint).join(', ')})`, { key });
      }
      return { record, written: this.change({ del: [key] }, () => this.records.delete(key)) };
    });
    await written.durable;
    // The catalog no longer names it (its id is never given again); if this fails, the next open sweeps it.
    await rm(this.dirOf(record), { recursive: true, force: true }).catch(() => undefined);
  }

  info(record: SnapshotRecord): SnapshotInfo {
    return { key: record.key, kind: record.kind, ...(record.parent === undefined ? {} : { parent: record.parent }) };
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Applies a change in memory and queues it for the disk, in one synchronous step (call it inside the
   * lock, after every check): a journal line, or a compaction when the journal is due for one. Wrapped
   * in an object so the lock is released before the write is awaited.
   */
  private change(entry: Pick<JournalEntry, 'del' | 'put'>, apply: () => void): Written {
    this.journal.check();
    apply();
    const seq = ++this.seq;
    if (!this.compacted || this.journalEntries >= Math.max(this.compactAfter, 2 * this.records.size)) return { durable: this.journal.run(this.compaction()) };
    this.journalEntries++;
    const line: JournalEntry = { seq, nextId: this.nextId, ...entry };
    return { durable: this.journal.run({ line: `${JSON.stringify(line)}\n` }) };
  }

  /** The whole catalog as it is in memory now, as of the last change queued: a new metadata.json. */
  private compaction(): JournalOp {
    const body: CatalogFile = { version: 2, snapshotter: this.snapshotter, nextId: this.nextId, seq: this.seq, snapshots: [...this.records.values()] };
    this.compacted = true;
    this.journalEntries = 0;
    return { compact: `${JSON.stringify(body, null, 1)}\n` };
  }

  /** After a crash: temp catalogs and directories the catalog never named (or had forgotten) go. */
  private async sweep(): Promise<void> {
    for (const name of await readdir(this.root)) {
      if (name.startsWith(`${METADATA}.`) && name.endsWith('.tmp')) await rm(join(this.root, name), { force: true });
    }
    const named = new Set([...this.records.values()].map((r) => String(r.id)));
    for (const name of await readdir(join(this.root, 'snapshots'))) {
      const id = Number(name);
      if (Number.isInteger(id) && id >= this.nextId) this.nextId = id + 1; // never reuse an id a directory still has
      if (named.has(name)) continue;
      const dir = join(this.root, 'snapshots', name);
      if ((await mountsUsing(dir)).length === 0) await rm(dir, { recursive: true, force: true });
    }
  }
}

/** A change queued for the disk: `durable` settles once its line (or the compaction that includes it) is fsynced. */
interface Written {
  durable: Promise<void>;
}

type JournalOp = { line: string } | { compact: string };

/**
 * The writes of one catalog, in the order they were queued, one at a time. Lines queued while a write
 * runs go out together in the next one (one append, one fdatasync); a compaction is written alone. After
 * a failed write, what the disk holds is unknown: every write queued or asked for later is refused.
 */
class Journal {
  private readonly queued: Array<{ op: JournalOp; resolve: () => void; reject: (error: unknown) => void }> = [];
  private draining = false;
  private failed: Error | null = null;

  constructor(private readonly root: string) {}

  /** Throws once a write has failed: the catalog in memory may be ahead of the disk, so it takes no more changes. */
  check(): void {
    if (this.failed) throw this.failed;
  }

  run(op: JournalOp): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ op, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queued.length > 0) {
        const first = this.queued[0].op;
        let n = 1;
        if ('line' in first) while (n < this.queued.length && 'line' in this.queued[n].op) n++;
        const batch = this.queued.splice(0, n);
        try {
          if (this.failed) throw this.failed;
          if ('compact' in first) await this.compact(first.compact);
          else await this.append(batch.map((b) => (b.op as { line: string }).line).join(''));
          for (const b of batch) b.resolve();
        } catch (error) {
          this.failed ??= layerUnavailable(
            'SNAPSHOTTER_UNAVAILABLE',
            `the snapshot catalog in ${this.root} could not write its journal (${(error as Error)?.message ?? error}): it takes no more changes until it is opened again`,
          );
          for (const b of batch) b.reject(this.failed);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async append(text: string): Promise<void> {
    // The journal exists: a compaction (made it and fsynced its directory) always comes before the first line.
    const file = await open(join(this.root, JOURNAL), 'a');
    try {
      await file.appendFile(text);
      await file.datasync();
    } finally {
      await file.close();
    }
  }

  /** Temp + fsync + rename + fsync of the directory (which also names the journal), then the journal emptied. */
  private async compact(text: string): Promise<void> {
    const temp = join(this.root, `${METADATA}.${process.pid}.tmp`);
    const file = await open(temp, 'w');
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    const journal = await open(join(this.root, JOURNAL), 'a');
    try {
      await rename(temp, join(this.root, METADATA));
      const dir = await open(this.root, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      // Only now: a crash before this point leaves the entries, which the new file's seq makes skipped.
      await journal.truncate(0);
      await journal.sync();
    } finally {
      await journal.close();
    }
  }
}

interface CatalogState {
  file: CatalogFile | undefined;
  records: Map<string, SnapshotRecord>;
  nextId: number;
  seq: number;
  /** Bytes in the journal, torn line included (0: nothing to fold in). */
  journalBytes: number;
}

/** metadata.json, then the journal's entries after its `seq`, in order; a torn last line is a change that never happened. */
async function readState(root: string): Promise<CatalogState> {
  const file = await readCatalog(root);
  const records = new Map((file?.snapshots ?? []).map((r) => [r.key, r]));
  let nextId = file?.nextId ?? 1;
  let seq = file?.seq ?? 0;
  let text = '';
  try {
    text = await readFile(join(root, JOURNAL), 'utf8');
  } catch (error: any) {
    if (error?.code !== 'ENOENT') throw error;
  }
  // Every whole entry ends with a newline; what follows the last one is a torn write (or nothing).
  const lines = text.split('\n').slice(0, -1);
  for (const [i, line] of lines.entries()) {
    const entry = parseEntry(line);
    if (!entry) {
      // The last write may be torn even with newlines on disk (the pages of one append can persist in any
      // order): garbage from here on is that write, never acknowledged. A whole entry after it is damage.
      if (lines.slice(i + 1).every((l) => !parseEntry(l))) break;
      throw new Error(`${join(root, JOURNAL)}: line ${i + 1} of ${lines.length} is not a catalog entry, yet entries follow: damaged from outside?`);
    }
    if (entry.seq <= (file?.seq ?? 0)) continue; // already in metadata.json (a crash before the journal was emptied)
    if (entry.seq !== seq + 1) throw new Error(`${join(root, JOURNAL)}: entry ${entry.seq} follows ${seq}: damaged from outside?`);
    seq = entry.seq;
    nextId = Math.max(nextId, entry.nextId);
    for (const key of entry.del ?? []) records.delete(key);
    for (const record of entry.put ?? []) records.set(record.key, record);
  }
  return { file, records, nextId, seq, journalBytes: Buffer.byteLength(text) };
}

function parseEntry(line: string): JournalEntry | undefined {
  let entry: JournalEntry;
  try {
    entry = JSON.parse(line) as JournalEntry;
  } catch {
    return undefined;
  }
  const ok =
    Number.isInteger(entry?.seq) &&
    Number.isInteger(entry.nextId) &&
    (entry.del === undefined || (Array.isArray(entry.del) && entry.del.every((k) => typeof k === 'string'))) &&
    (entry.put === undefined || (Array.isArray(entry.put) && entry.put.every((r) => typeof r?.key === 'string' && Number.isInteger(r.id))));
  return ok ? entry : undefined;
}

/** The snapshots the catalog under `root` names, as an open would read them (metadata.json, then the journal); for tools outside the node. */
export async function catalogRecords(root: string): Promise<Map<string, SnapshotRecord>> {
  return (await readState(root)).records;
}

/** Whether the catalog under `root` names any snapshot (metadata.json and its journal); false when there is none or it cannot be read. */
export async function catalogHoldsSnapshots(root: string): Promise<boolean> {
  try {
    return (await catalogRecords(root)).size > 0;
  } catch {
    return false;
  }
}

async function readCatalog(root: string): Promise<CatalogFile | undefined> {
  let text: string;
  try {
    text = await readFile(join(root, METADATA), 'utf8');
  } catch (error: any) {
    if (error?.code === 'ENOENT') return undefined;
    throw error;
  }
  // The file is only ever replaced whole, so if it does not parse, something else damaged it: say so, never start empty.
  let file: CatalogFile | undefined;
  try {
    file = JSON.parse(text) as CatalogFile;
  } catch {
    file = undefined;
  }
  if ((file?.version !== 1 && file?.version !== 2) || !Array.isArray(file.snapshots)) {
    throw new Error(`${join(root, METADATA)} is not a snapshot catalog (version 1 or 2): damaged from outside?`);
  }
  return file;
}

/** Keys are arbitrary strings, but a string and not empty: anything else is a caller's bug. */
function checkKey(key: unknown): void {
  if (typeof key !== 'string' || key === '') throw new TypeError(`a snapshot key must be a non-empty string, not ${JSON.stringify(key)}`);
}
