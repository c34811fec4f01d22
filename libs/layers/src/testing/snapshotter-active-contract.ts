import { appendFile, chmod, lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withMounted } from '../snapshot/mount.js';
import type { Snapshotter } from '../snapshot/port.js';
import { BUSYBOX } from './busybox-rootfs.js';
import { hashTree, layerDirs, modeOf as mode } from './snapshotter-fixtures.js';
import { BASE, buildBaseAndSecond, expectedContainerChanges, SECOND } from './snapshotter-layers.js';
import type { SnapshotterFactory, SnapshotterUnderTest } from './snapshotter-contract.js';

/** A container's writable snapshot: writes through its mount, changes(), commit, layers left untouched. */
export function activeSnapshotContract(factory: SnapshotterFactory): void {
  describe('an active snapshot (a container on the image)', () => {
    let under: SnapshotterUnderTest;
    let s: Snapshotter;
    beforeEach(async () => {
      under = await factory();
      s = under.snapshotter;
      await buildBaseAndSecond(s);
    });
    afterEach(() => under?.destroy());

    /** The container's work, done through its mounted root as its process would. */
    const containerWrites = async (root: string) => {
      await writeFile(join(root, 'greeting'), 'hello\n');
      await rm(join(root, 'etc/motd'));
      await mkdir(join(root, 'srv2'));
      await writeFile(join(root, 'srv2/a'), 'x\n');
      await chmod(join(root, 'opt/tool/inner'), 0o700);
      await rm(join(root, 'etc/app'), { recursive: true });
      await mkdir(join(root, 'etc/app'));
      await writeFile(join(root, 'etc/app/new.conf'), 'n');
      await rm(join(root, 'data'), { recursive: true });
      await writeFile(join(root, 'data'), 'f');
      await rm(join(root, 'empty'), { recursive: true });
      await appendFile(join(root, 'etc/passwd'), 'app:x:1000:1000::/:/bin/sh\n');
    };

    /** Every directory the committed layers live in, hashed through views' mounts. */
    const hashLayers = async () => {
      const hashes: Record<string, string> = {};
      for (const key of [BASE, SECOND]) {
        if (!(await s.stat(`hash-${key}`))) await s.view(`hash-${key}`, key);
        for (const dir of layerDirs(await s.mounts(`hash-${key}`))) hashes[dir] = await hashTree(dir);
      }
      return hashes;
    };

    it('writes land in the active snapshot alone: the layers below are unchanged byte for byte', async () => {
      const before = await hashLayers();
      await s.prepare('ctr', SECOND);
      await withMounted(await s.mounts('ctr'), containerWrites);
      expect(await hashLayers()).toEqual(before);
      await s.view('fresh', SECOND);
      await withMounted(await s.mounts('fresh'), async (root) => {
        expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe('Welcome to Strata\n');
        await expect(lstat(join(root, 'greeting'))).rejects.toMatchObject({ code: 'ENOENT' });
      });
    });

    it('changes() lists what the container did as A/C/D, sorted, like docker diff', async () => {
      await s.prepare('ctr', SECOND);
      const seenWhileMounted = await withMounted(await s.mounts('ctr'), async (root) => {
        await containerWrites(root);
        return s.changes('ctr');
      });
      const expected = expectedContainerChanges(s.whiteoutStyle);
      expect(seenWhileMounted).toEqual(expected);
      expect(await s.changes('ctr')).toEqual(expected);
    });

    it('an untouched active snapshot has no changes', async () => {
      await s.prepare('ctr', SECOND);
      await withMounted(await s.mounts('ctr'), async (root) => {
        await readFile(join(root, 'etc/passwd'));
      });
      expect(await s.changes('ctr')).toEqual([]);
    });

    it('commit, then a child on top sees the committed writes and deletions', async () => {
      await s.prepare('ctr', SECOND);
      await withMounted(await s.mounts('ctr'), containerWrites);
      await s.commit('sha256:third', 'ctr');
      expect(await s.stat('ctr')).toBeUndefined();
      expect(await s.stat('sha256:third')).toEqual({ key: 'sha256:third', parent: SECOND, kind: 'committed' });
      expect(await s.changes('sha256:third')).toEqual(expectedContainerChanges(s.whiteoutStyle));
      await s.prepare('ctr2', 'sha256:third');
      await withMounted(await s.mounts('ctr2'), async (root) => {
        expect(await readFile(join(root, 'greeting'), 'utf8')).toBe('hello\n');
        await expect(lstat(join(root, 'etc/motd'))).rejects.toMatchObject({ code: 'ENOENT' });
        expect(await readdir(join(root, 'etc/app'))).toEqual(['new.conf']);
        expect(await readFile(join(root, 'data'), 'utf8')).toBe('f');
        expect(await mode(join(root, 'opt/tool/inner'))).toBe(0o700);
        expect(await readdir(root)).not.toContain('empty');
        await writeFile(join(root, 'greeting'), 'hello again\n');
      });
      expect(await s.changes('ctr2')).toEqual([{ kind: 'C', path: '/greeting', type: 'file' }]);
    });

    it('an active snapshot and a view with no parent are empty; the active one takes writes', async () => {
      await s.prepare('scratch');
      await s.view('nothing');
      await withMounted(await s.mounts('nothing'), async (root) => expect(await readdir(root)).toEqual([]));
      await withMounted(await s.mounts('scratch'), async (root) => {
        expect(await readdir(root)).toEqual([]);
        await writeFile(join(root, 'only'), '1');
      });
      expect(await s.changes('scratch')).toEqual([{ kind: 'A', path: '/only', type: 'file' }]);
      expect(await s.changes('nothing')).toEqual([]);
    });

    it('usage counts the bytes and inodes of the snapshot\u2019s own layer', async () => {
      await s.prepare('ctr', SECOND);
      await withMounted(await s.mounts('ctr'), (root) => writeFile(join(root, 'big'), Buffer.alloc(2 * 1024 * 1024, 1)));
      const usage = await s.usage('ctr');
      expect(usage.size).toBeGreaterThanOrEqual(2 * 1024 * 1024);
      expect(usage.inodes).toBeGreaterThanOrEqual(2);
      expect((await s.usage(BASE)).size).toBeGreaterThanOrEqual((await stat(BUSYBOX)).size);
    });
  });
}
