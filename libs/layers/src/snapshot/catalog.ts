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
  version: 1;
  snapshotter: string;
  nextId: number;
  snapshots: SnapshotRecord[];
}

const METADATA = 'metadata.json';

/**
 * The snapshots of one snapshotter: key → (short numeric id, kind, parent), kept in `<root>/metadata.json`.
 * Short ids keep overlay's lowerdir lists short; keys stay arbitrary strings (chainIDs, container ids).
 *
 * Every change is a whole new file renamed over the old one, so a crash leaves the old or the new
 * catalog, never a torn one. Directories are created before the catalog names them and deleted after it
 * forgets them: a crash leaves at worst an unnamed directory, swept on the next open. Changes are
 * serialized within the process; one node owns one root (two processes on it are not supported).
 */
export class SnapshotCatalog {
  private readonly records = new Map<string, SnapshotRecord>();
  /** Snapshots being built (a native copy can take a while): their keys are taken, their parents pinned. */
  private readonly building = new Map<string, string | undefined>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly root: string,
    private readonly snapshotter: string,
    private nextId: number,
  ) {}

  static async open(given: string, snapshotter: string): Promise<SnapshotCatalog> {
    await mkdir(join(given, 'snapshots'), { recursive: true });
    // Absolute and real: mount options and /proc/self/mountinfo both name real paths.
    const root = await realpath(given);
    const file = await readCatalog(root);
    if (file && file.snapshotter !== snapshotter) {
      throw layerUnavailable('SNAPSHOTTER_UNAVAILABLE', `${root} holds ${file.snapshotter} snapshots, not ${snapshotter} ones`);
    }
    const catalog = new SnapshotCatalog(root, snapshotter, file?.nextId ?? 1);
    for (const record of file?.snapshots ?? []) catalog.records.set(record.key, record);
    await catalog.sweep();
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
    try {
      await mkdir(dir);
      await build(dir);
      await this.locked(async () => {
        this.records.set(key, record);
        this.building.delete(key);
        await this.save().catch((error) => {
          this.records.delete(key);
          throw error;
        });
      });
    } catch (error) {
      this.building.delete(key);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return record;
  }

  /** Active `key` becomes committed `name`, in place (same directory); `finish` adds what a committed record keeps. */
  async commit(name: string, key: string, finish?: (record: SnapshotRecord) => Promise<Partial<SnapshotRecord>>): Promise<void> {
    await this.locked(async () => {
      const active = this.get(key);
      if (active.kind !== 'active') throw layerConflict('SNAPSHOT_NOT_ACTIVE', `snapshot ${JSON.stringify(key)} is ${active.kind}, not active: only an active snapshot can be committed`, { key });
      checkKey(name);
      if (this.records.has(name) || this.building.has(name)) throw layerConflict('SNAPSHOT_EXISTS', `snapshot ${JSON.stringify(name)} already exists`, { key: name });
      const committed: SnapshotRecord = { ...active, ...(await finish?.(active)), key: name, kind: 'committed' };
      this.records.delete(key);
      this.records.set(name, committed);
      await this.save().catch((error) => {
        this.records.delete(name);
        this.records.set(key, active);
        throw error;
      });
    });
  }

  /** Forgets `key` and deletes its directory; refused while other snapshots are based on it or it is mounted. */
  async remove(key: string): Promise<void> {
    await this.locked(async () => {
      const record = this.get(key);
      const children = [...this.records.values()].filter((r) => r.parent === key).map((r) => r.key);
      children.push(...[...this.building].filter(([, parent]) => parent === key).map(([child]) => child));
      if (children.length > 0) {
        throw layerConflict('SNAPSHOT_IN_USE', `snapshot ${JSON.stringify(key)} has children: ${children.map((c) => JSON.stringify(c)).join(', ')}`, { key, children });
      }
      const dir = this.dirOf(record);
      const mounted = await mountsUsing(dir);
      if (mounted.length > 0) {
        throw layerConflict('SNAPSHOT_IN_USE', `snapshot ${JSON.stringify(key)} is mounted (${mounted.map((m) => m.mountPoint).join(', ')})`, { key });
      }
      this.records.delete(key);
      await this.save().catch((error) => {
        this.records.set(key, record);
        throw error;
      });
      // The catalog no longer names it; if this fails, the next open sweeps it.
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    });
  }

  info(record: SnapshotRecord): SnapshotInfo {
    return { key: record.key, kind: record.kind, ...(record.parent === undefined ? {} : { parent: record.parent }) };
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Temp + fsync + rename + fsync of the directory: the catalog on disk is always a whole one. */
  private async save(): Promise<void> {
    const body: CatalogFile = { version: 1, snapshotter: this.snapshotter, nextId: this.nextId, snapshots: [...this.records.values()] };
    const temp = join(this.root, `${METADATA}.${process.pid}.tmp`);
    const file = await open(temp, 'w');
    try {
      await file.writeFile(JSON.stringify(body, null, 1) + '\n');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, join(this.root, METADATA));
    const dir = await open(this.root, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
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
  if (file?.version !== 1 || !Array.isArray(file.snapshots)) throw new Error(`${join(root, METADATA)} is not a snapshot catalog (version 1): damaged from outside?`);
  return file;
}

/** Keys are arbitrary strings, but a string and not empty: anything else is a caller's bug. */
function checkKey(key: unknown): void {
  if (typeof key !== 'string' || key === '') throw new TypeError(`a snapshot key must be a non-empty string, not ${JSON.stringify(key)}`);
}
