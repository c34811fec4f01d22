import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LayerError } from '../errors.js';
import { withMounted } from '../snapshot/mount.js';
import type { Snapshotter } from '../snapshot/port.js';
import { commitLayer, writeLayer } from './snapshotter-fixtures.js';
import type { SnapshotterFactory, SnapshotterUnderTest } from './snapshotter-contract.js';

const code = (c: string) => expect.objectContaining({ name: 'LayerError', code: c });

/** The catalog: stat/list, remove, every error code, arbitrary keys, concurrency, restart. */
export function lifecycleContract(factory: SnapshotterFactory): void {
  describe('lifecycle, catalog and errors', () => {
    let under: SnapshotterUnderTest;
    let s: Snapshotter;
    beforeEach(async () => {
      under = await factory();
      s = under.snapshotter;
      await commitLayer(s, 'L1', undefined, (dir, style) => writeLayer(dir, style, [{ path: 'one', file: '1' }]));
      await commitLayer(s, 'L2', 'L1', (dir, style) => writeLayer(dir, style, [{ path: 'two', file: '2' }]));
    });
    afterEach(() => under?.destroy());

    it('stat and list report key, parent and kind', async () => {
      await s.prepare('ctr', 'L2');
      await s.view('v', 'L1');
      expect(await s.stat('L2')).toEqual({ key: 'L2', parent: 'L1', kind: 'committed' });
      expect(await s.stat('L1')).toEqual({ key: 'L1', kind: 'committed' });
      expect(await s.stat('ctr')).toEqual({ key: 'ctr', parent: 'L2', kind: 'active' });
      expect(await s.stat('v')).toEqual({ key: 'v', parent: 'L1', kind: 'view' });
      expect(await s.stat('nope')).toBeUndefined();
      expect((await s.list()).map((i) => i.key).sort()).toEqual(['L1', 'L2', 'ctr', 'v']);
    });

    it('remove of a snapshot with children is refused until they are gone', async () => {
      await s.prepare('ctr', 'L2');
      await s.view('v', 'L2');
      await expect(s.remove('L1')).rejects.toEqual(code('SNAPSHOT_IN_USE'));
      await expect(s.remove('L2')).rejects.toEqual(code('SNAPSHOT_IN_USE'));
      await s.remove('ctr');
      await expect(s.remove('L2')).rejects.toEqual(code('SNAPSHOT_IN_USE'));
      await s.remove('v');
      await s.remove('L2');
      await s.remove('L1');
      expect(await s.list()).toEqual([]);
    });

    it('unknown keys: SNAPSHOT_NOT_FOUND (stat says undefined)', async () => {
      for (const attempt of [
        () => s.mounts('nope'),
        () => s.remove('nope'),
        () => s.prepare('x', 'nope'),
        () => s.view('x', 'nope'),
        () => s.commit('y', 'nope'),
        () => s.writable('nope'),
        () => s.changes('nope'),
        () => s.usage('nope'),
      ]) {
        const failure = await attempt().then(() => undefined, (error: unknown) => error);
        expect(failure).toBeInstanceOf(LayerError);
        expect(failure).toMatchObject({ code: 'SNAPSHOT_NOT_FOUND', kind: 'not-found' });
      }
      expect((await s.list()).map((i) => i.key).sort()).toEqual(['L1', 'L2']);
    });

    it('duplicate keys: SNAPSHOT_EXISTS, whatever kind holds the key', async () => {
      await s.prepare('ctr', 'L2');
      await s.view('v', 'L2');
      for (const key of ['L1', 'ctr', 'v']) {
        await expect(s.prepare(key, 'L2')).rejects.toEqual(code('SNAPSHOT_EXISTS'));
        await expect(s.view(key)).rejects.toEqual(code('SNAPSHOT_EXISTS'));
        await expect(s.commit(key, 'ctr')).rejects.toEqual(code('SNAPSHOT_EXISTS'));
      }
      expect(await s.stat('ctr')).toEqual({ key: 'ctr', parent: 'L2', kind: 'active' });
    });

    it('what only an active snapshot can do: SNAPSHOT_NOT_ACTIVE for committed snapshots and views', async () => {
      await s.view('v', 'L2');
      await expect(s.commit('x', 'L2')).rejects.toEqual(code('SNAPSHOT_NOT_ACTIVE'));
      await expect(s.commit('x', 'v')).rejects.toEqual(code('SNAPSHOT_NOT_ACTIVE'));
      await expect(s.writable('v')).rejects.toEqual(code('SNAPSHOT_NOT_ACTIVE'));
      await expect(s.writable('L2')).rejects.toEqual(code('SNAPSHOT_NOT_ACTIVE'));
      await expect(s.mounts('L2')).rejects.toEqual(code('SNAPSHOT_NOT_ACTIVE'));
      expect(await s.stat('x')).toBeUndefined();
    });

    it('only a committed snapshot can be a parent', async () => {
      await s.prepare('ctr', 'L2');
      await expect(s.prepare('child', 'ctr')).rejects.toEqual(code('SNAPSHOT_NOT_FOUND'));
      expect(await s.stat('child')).toBeUndefined();
    });

    it('keys are arbitrary strings (chainIDs, slashes, dots, unicode, __proto__)', async () => {
      const keys = [`sha256:${'ab'.repeat(32)}`, 'a/b c', '..', '../../etc', '__proto__', 'ünïcødé ✓'];
      let parent = 'L2';
      for (const key of keys) {
        await commitLayer(s, key, parent, (dir, style) => writeLayer(dir, style, [{ path: `f${keys.indexOf(key)}`, file: key }]));
        parent = key;
      }
      await s.prepare('top', parent);
      await withMounted(await s.mounts('top'), async (root) => {
        expect((await readdir(root)).sort()).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'one', 'two']);
        expect(await readFile(join(root, 'f4'), 'utf8')).toBe('__proto__');
      });
      for (const key of keys) expect((await s.stat(key))?.kind).toBe('committed');
    });

    it('concurrent prepares: one key goes to exactly one caller, different keys all succeed', async () => {
      const same = await Promise.allSettled(Array.from({ length: 5 }, () => s.prepare('race', 'L2')));
      expect(same.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => s.prepare(`c${i}`, 'L2')));
      expect(new Set(many.map((m) => JSON.stringify(m))).size).toBe(8);
      expect((await s.list()).length).toBe(2 + 1 + 8);
    });

    it('a restarted node finds every snapshot as it was', async () => {
      await s.prepare('ctr', 'L2');
      await withMounted(await s.mounts('ctr'), (root) => writeFile(join(root, 'three'), '3'));
      await s.view('v', 'L1');
      const again = await under.reopen();
      expect((await again.list()).sort((a, b) => a.key.localeCompare(b.key))).toEqual((await s.list()).sort((a, b) => a.key.localeCompare(b.key)));
      expect(await again.mounts('ctr')).toEqual(await s.mounts('ctr'));
      expect(await again.changes('ctr')).toEqual([{ kind: 'A', path: '/three', type: 'file' }]);
      await withMounted(await again.mounts('ctr'), async (root) => expect((await readdir(root)).sort()).toEqual(['one', 'three', 'two']));
      await again.commit('L3', 'ctr');
      await again.remove('v');
      const third = await under.reopen();
      expect((await third.list()).map((i) => i.key).sort()).toEqual(['L1', 'L2', 'L3']);
    });
  });
}
