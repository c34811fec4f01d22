import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SnapshotCatalog, catalogHoldsSnapshots } from './catalog.js';

const nothing = async () => undefined;

async function journalLines(root: string): Promise<string[]> {
  return (await readFile(join(root, 'metadata.journal'), 'utf8')).split('\n').filter((l) => l !== '');
}

async function metadata(root: string): Promise<{ version: number; seq?: number; nextId: number; snapshots: Array<{ key: string }> }> {
  return JSON.parse(await readFile(join(root, 'metadata.json'), 'utf8'));
}

describe('SnapshotCatalog (metadata.json + metadata.journal)', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-catalog-'));
  });
  afterEach(() => root && rm(root, { recursive: true, force: true }));

  it('a change is one journal line; the first change on a fresh root writes metadata.json (version 2) first', async () => {
    const c = await SnapshotCatalog.open(root, 'native');
    expect(await readdir(root)).toEqual(['snapshots']); // opening writes nothing
    await c.create('a', 'active', undefined, nothing);
    expect(await metadata(root)).toMatchObject({ version: 2, seq: 1, snapshots: [{ key: 'a', id: 1 }] });
    expect(await journalLines(root)).toEqual([]);
    await c.commit('A', 'a');
    await c.create('b', 'active', 'A', nothing);
    await c.remove('b');
    expect((await journalLines(root)).map((l) => JSON.parse(l))).toEqual([
      { seq: 2, nextId: 2, del: ['a'], put: [{ key: 'A', id: 1, kind: 'committed' }] },
      { seq: 3, nextId: 3, put: [{ key: 'b', id: 2, kind: 'active', parent: 'A' }] },
      { seq: 4, nextId: 3, del: ['b'] },
    ]);
    expect((await metadata(root)).seq).toBe(1); // untouched by those three
  });

  it('reopened after many changes, it holds the same records, and compacts the journal on open', async () => {
    const c = await SnapshotCatalog.open(root, 'native');
    let parent: string | undefined;
    for (let i = 0; i < 40; i++) {
      await c.create(`tmp-${i}`, 'active', parent, nothing);
      await c.commit(`layer-${i}`, `tmp-${i}`);
      await c.create(`ctr-${i}`, 'active', `layer-${i}`, nothing);
      if (i % 3 === 0) await c.remove(`ctr-${i}`);
      parent = `layer-${i}`;
    }
    await Promise.all(Array.from({ length: 30 }, (_, i) => c.create(`many-${i}`, 'view', parent, nothing))); // grouped appends
    const before = c.list();
    expect(before).toHaveLength(40 + 40 - 14 + 30);
    expect((await journalLines(root)).length).toBeGreaterThan(100);

    const again = await SnapshotCatalog.open(root, 'native');
    expect(again.list()).toEqual(before);
    expect(await journalLines(root)).toEqual([]);
    expect((await metadata(root)).snapshots).toEqual(before);
    expect((await readdir(join(root, 'snapshots'))).length).toBe(before.length); // removed ones deleted, none swept
    const next = await again.create('after', 'active', undefined, nothing);
    expect(next.id).toBe(40 * 2 + 30 + 1); // ids never reused
    expect((await SnapshotCatalog.open(root, 'native')).list()).toEqual([...before, next]);
  });

  it('compacts once the journal holds more than its limit, or twice the record count when that is more', async () => {
    const c = await SnapshotCatalog.open(root, 'native', { compactAfter: 4 });
    await c.create('base', 'active', undefined, nothing); // the first change: a compaction
    for (let i = 0; i < 2; i++) {
      await c.create(`t${i}`, 'active', undefined, nothing);
      await c.remove(`t${i}`);
    }
    expect(await journalLines(root)).toHaveLength(4);
    expect((await metadata(root)).seq).toBe(1);
    await c.create('t2', 'active', undefined, nothing); // the 5th since: folded in instead
    expect(await journalLines(root)).toEqual([]);
    expect(await metadata(root)).toMatchObject({ seq: 6, nextId: 5 });
    expect((await metadata(root)).snapshots.map((s) => s.key)).toEqual(['base', 't2']);
    // With more records the journal may grow longer (twice the records): the rewrite stays O(1) per change.
    for (let i = 0; i < 10; i++) await c.create(`y${i}`, 'view', undefined, nothing);
    expect(await journalLines(root)).toHaveLength(10);
    expect((await metadata(root)).seq).toBe(6);
    expect((await SnapshotCatalog.open(root, 'native')).list()).toEqual(c.list());
  });

  it('a torn last line (a crash mid-append) is a change that never happened; appends go on from a clean line', async () => {
    const c = await SnapshotCatalog.open(root, 'native');
    await c.create('a', 'active', undefined, nothing);
    await c.create('b', 'active', undefined, nothing);
    await mkdir(join(root, 'snapshots/3')); // the directory of the change being written
    await appendFile(join(root, 'metadata.journal'), '{"seq":3,"nextId":4,"put":[{"key":"c","id":3,"ki');
    const again = await SnapshotCatalog.open(root, 'native');
    expect(again.list().map((r) => r.key)).toEqual(['a', 'b']);
    expect(await readdir(join(root, 'snapshots'))).toEqual(['1', '2']); // its directory swept
    expect(await journalLines(root)).toEqual([]);
    await again.create('d', 'active', undefined, nothing);
    expect((await SnapshotCatalog.open(root, 'native')).list().map((r) => r.key)).toEqual(['a', 'b', 'd']);

    // Garbage with a newline (pages of one append persisted out of order) is torn too, when nothing whole follows it.
    await again.create('e', 'active', undefined, nothing);
    await appendFile(join(root, 'metadata.journal'), '\0\0\0\0\n{"seq":99,"nextId"');
    expect((await SnapshotCatalog.open(root, 'native')).list().map((r) => r.key)).toEqual(['a', 'b', 'd', 'e']);
  });

  it('a bad line with whole entries after it is damage: refused, never a silently shorter catalog', async () => {
    const c = await SnapshotCatalog.open(root, 'native');
    await c.create('a', 'active', undefined, nothing);
    await c.create('b', 'active', undefined, nothing);
    await c.create('c', 'active', undefined, nothing);
    const lines = await journalLines(root);
    await writeFile(join(root, 'metadata.journal'), `garbage\n${lines.join('\n')}\n`);
    await expect(SnapshotCatalog.open(root, 'native')).rejects.toThrow(/line 1 of 3 is not a catalog entry, yet entries follow/);
    await writeFile(join(root, 'metadata.journal'), `${lines[1]}\n`); // a gap: entry 3 after 1
    await expect(SnapshotCatalog.open(root, 'native')).rejects.toThrow(/entry 3 follows 1/);
  });

  it('a crash between the journal and the directories: a named directory stays, a forgotten one is swept', async () => {
    const c = await SnapshotCatalog.open(root, 'native');
    const a = await c.create('a', 'active', undefined, nothing);
    const b = await c.create('b', 'active', undefined, nothing);
    // remove(b) wrote its line, then the process died before deleting the directory.
    await appendFile(join(root, 'metadata.journal'), `${JSON.stringify({ seq: 3, nextId: 3, del: ['b'] })}\n`);
    // A create made its directory and died before its line: never named.
    await mkdir(join(root, 'snapshots/3/fs'), { recursive: true });
    const again = await SnapshotCatalog.open(root, 'native');
    expect(again.list()).toEqual([a]);
    expect(await readdir(join(root, 'snapshots'))).toEqual([String(a.id)]);
    expect(b.id).toBe(2);
    expect((await again.create('c', 'active', undefined, nothing)).id).toBe(4); // 3 was on disk: not given again
  });

  it('a crash after a compaction renamed metadata.json but before the journal was emptied: its entries are skipped', async () => {
    const c = await SnapshotCatalog.open(root, 'native', { compactAfter: 3 });
    await c.create('keep', 'active', undefined, nothing); // compaction, seq 1
    await c.create('x', 'active', undefined, nothing);
    await c.remove('x');
    await c.create('y', 'active', undefined, nothing);
    const stale = await readFile(join(root, 'metadata.journal'), 'utf8');
    expect(stale.split('\n').filter(Boolean)).toHaveLength(3);
    await c.remove('y'); // compaction, seq 5; the journal emptied
    expect(await journalLines(root)).toEqual([]);
    expect((await metadata(root)).seq).toBe(5);
    await writeFile(join(root, 'metadata.journal'), stale); // as if the truncation had not reached the disk
    const again = await SnapshotCatalog.open(root, 'native');
    expect(again.list().map((r) => r.key)).toEqual(['keep']); // applied again, those entries would bring y back
    await again.create('d', 'active', undefined, nothing);
    expect((await SnapshotCatalog.open(root, 'native')).list().map((r) => r.key)).toEqual(['keep', 'd']);
  });

  it('opens a root of the old format (metadata.json version 1 only); its first change rewrites it as version 2', async () => {
    await mkdir(join(root, 'snapshots/1'), { recursive: true });
    await mkdir(join(root, 'snapshots/2'), { recursive: true });
    await writeFile(
      join(root, 'metadata.json'),
      JSON.stringify({ version: 1, snapshotter: 'native', nextId: 3, snapshots: [{ key: 'L', id: 1, kind: 'committed' }, { key: 'ctr', id: 2, kind: 'active', parent: 'L' }] }, null, 1),
    );
    expect(await catalogHoldsSnapshots(root)).toBe(true);
    const c = await SnapshotCatalog.open(root, 'native');
    expect(c.list().map((r) => [r.key, r.id])).toEqual([['L', 1], ['ctr', 2]]);
    expect((await metadata(root)).version).toBe(1); // opening alone changes nothing
    await c.remove('ctr');
    expect(await metadata(root)).toMatchObject({ version: 2, seq: 1, nextId: 3, snapshots: [{ key: 'L' }] });
    await c.create('ctr2', 'active', 'L', nothing);
    expect(await journalLines(root)).toHaveLength(1);
    expect((await SnapshotCatalog.open(root, 'native')).list().map((r) => [r.key, r.id])).toEqual([['L', 1], ['ctr2', 3]]);
  });

  it('catalogHoldsSnapshots reads the journal too', async () => {
    expect(await catalogHoldsSnapshots(root)).toBe(false);
    const c = await SnapshotCatalog.open(root, 'native');
    await c.create('a', 'active', undefined, nothing);
    await c.remove('a');
    expect((await metadata(root)).snapshots.map((r) => r.key)).toEqual(['a']); // the journal forgot it
    expect(await catalogHoldsSnapshots(root)).toBe(false);
    await c.create('b', 'active', undefined, nothing); // only in the journal
    expect(await catalogHoldsSnapshots(root)).toBe(true);
  });

  it('after a failed journal write it refuses every change until reopened; the disk decides what was named', async () => {
    const c = await SnapshotCatalog.open(root, 'native');
    await c.create('a', 'active', undefined, nothing);
    await rm(join(root, 'metadata.journal'));
    await mkdir(join(root, 'metadata.journal')); // appends now fail (EISDIR)
    await expect(c.create('b', 'active', undefined, nothing)).rejects.toMatchObject({ code: 'SNAPSHOTTER_UNAVAILABLE', message: expect.stringContaining('could not write its journal') });
    expect(await stat(join(root, 'snapshots/2'))).toBeTruthy(); // whether it was named is unknown: left to the sweep
    await expect(c.remove('a')).rejects.toMatchObject({ code: 'SNAPSHOTTER_UNAVAILABLE' });
    await rmdir(join(root, 'metadata.journal'));
    const again = await SnapshotCatalog.open(root, 'native');
    expect(again.list().map((r) => r.key)).toEqual(['a']);
    expect(await readdir(join(root, 'snapshots'))).toEqual(['1']);
    await again.create('b', 'active', undefined, nothing);
  });

  it('concurrent changes keep their order in the journal, each durable before it returns', async () => {
    const c = await SnapshotCatalog.open(root, 'native');
    await c.create('base', 'active', undefined, nothing);
    await c.commit('B', 'base');
    const created = await Promise.all(Array.from({ length: 50 }, (_, i) => c.create(`c${i}`, 'active', 'B', nothing)));
    await Promise.all(created.filter((_, i) => i % 2 === 0).map((r) => c.remove(r.key)));
    const seqs = (await journalLines(root)).map((l) => JSON.parse(l).seq as number);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 2));
    expect((await SnapshotCatalog.open(root, 'native')).list()).toEqual(c.list());
    expect(c.list()).toHaveLength(26);
  });
});
