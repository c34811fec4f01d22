import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withMounted } from '../snapshot/mount.js';
import type { Snapshotter } from '../snapshot/port.js';
import { BUSYBOX } from './busybox-rootfs.js';
import { modeOf as mode } from './snapshotter-fixtures.js';
import { BASE, buildBaseAndSecond, SECOND } from './snapshotter-layers.js';
import type { SnapshotterFactory, SnapshotterUnderTest } from './snapshotter-contract.js';

/** Two committed layers read back through views: every kind of entry a layer carries, and deletions. */
export function readingContract(factory: SnapshotterFactory): void {
  describe('reading committed layers through a view', () => {
    // Built once, by the first test that needs it rather than in beforeAll: if the factory cannot run
    // here, every test fails with its message instead of being reported as skipped.
    let built: Promise<SnapshotterUnderTest> | undefined;
    const image = (): Promise<Snapshotter> => {
      built ??= factory().then(async (under) => {
        await buildBaseAndSecond(under.snapshotter);
        await under.snapshotter.view('view-base', BASE);
        await under.snapshotter.view('view-second', SECOND);
        return under;
      });
      return built.then((under) => under.snapshotter);
    };
    afterAll(async () => (await built?.catch(() => undefined))?.destroy());
    const inBase = async <T>(fn: (root: string) => Promise<T>) => withMounted(await (await image()).mounts('view-base'), fn);
    const inSecond = async <T>(fn: (root: string) => Promise<T>) => withMounted(await (await image()).mounts('view-second'), fn);

    it('a busybox rootfs as the base layer: binary, applet symlinks, /etc, /tmp 1777, /root 0700', async () => {
      await inBase(async (root) => {
        expect((await stat(join(root, 'bin/busybox'))).size).toBe((await stat(BUSYBOX)).size);
        expect(await mode(join(root, 'bin/busybox'))).toBe(0o755);
        expect(await readlink(join(root, 'bin/sh'))).toBe('busybox');
        expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe('Welcome to Strata\n');
        expect(await mode(join(root, 'tmp'))).toBe(0o1777);
        expect(await mode(join(root, 'root'))).toBe(0o700);
      });
    });

    it('a whiteout hides a lower file, only from the layer on', async () => {
      await inSecond(async (root) => expect(await readdir(join(root, 'data'))).toEqual(['stays.txt']));
      await inBase(async (root) => expect((await readdir(join(root, 'data'))).sort()).toEqual(['gone.txt', 'stays.txt']));
    });

    it('an opaque directory hides all lower children but shows its own', async () => {
      await inSecond(async (root) => {
        expect(await readdir(join(root, 'etc/app'))).toEqual(['c.conf']);
        expect(await readFile(join(root, 'etc/app/c.conf'), 'utf8')).toBe('c2');
      });
      await inBase(async (root) => expect((await readdir(join(root, 'etc/app'))).sort()).toEqual(['a.conf', 'b.conf', 'sub']));
    });

    it('a directory replaced by a file, and a file replaced by a directory', async () => {
      await inSecond(async (root) => {
        expect(await readFile(join(root, 'srv/www'), 'utf8')).toBe('now a file');
        expect((await lstat(join(root, 'opt/tool'))).isDirectory()).toBe(true);
        expect(await readdir(join(root, 'opt/tool'))).toEqual(['inner']);
      });
    });

    it('symlinks keep their relative, absolute and dangling targets as they are', async () => {
      await inSecond(async (root) => {
        expect(await readlink(join(root, 'links/rel'))).toBe('../etc/motd');
        expect(await readlink(join(root, 'links/abs'))).toBe('/etc/motd');
        expect(await readlink(join(root, 'links/dangling'))).toBe('/nowhere/at/all');
        expect(await readFile(join(root, 'links/rel'), 'utf8')).toBe('Welcome to Strata\n');
      });
    });

    it('hard links inside one layer are one inode', async () => {
      await inSecond(async (root) => {
        const [one, two] = [await lstat(join(root, 'hl/one')), await lstat(join(root, 'hl/two'))];
        expect(two.ino).toBe(one.ino);
        expect(one.nlink).toBe(2);
      });
    });

    it('permissions: a 0600 file, 0755, 2775 and 1777 directories, a setuid file', async () => {
      await inSecond(async (root) => {
        expect(await mode(join(root, 'perm/secret'))).toBe(0o600);
        expect(await mode(join(root, 'perm/d755'))).toBe(0o755);
        expect(await mode(join(root, 'perm/d2775'))).toBe(0o2775);
        expect(await mode(join(root, 'perm/d1777'))).toBe(0o1777);
        expect(await mode(join(root, 'perm/suid'))).toBe(0o4755);
      });
    });

    it('ownership: uid/gid 1000 and 65534', async () => {
      await inSecond(async (root) => {
        expect(await lstat(join(root, 'own/u1000'))).toMatchObject({ uid: 1000, gid: 1000 });
        expect(await lstat(join(root, 'own/nobody'))).toMatchObject({ uid: 65534, gid: 65534 });
        expect(await lstat(join(root, 'own/dir1000'))).toMatchObject({ uid: 1000, gid: 1000 });
        expect(await mode(join(root, 'own/dir1000'))).toBe(0o750);
      });
    });

    it('empty directories and fifos', async () => {
      await inSecond(async (root) => {
        expect(await readdir(join(root, 'hollow'))).toEqual(['nested']);
        expect(await readdir(join(root, 'hollow/nested'))).toEqual([]);
        expect((await lstat(join(root, 'pipes/fifo'))).isFIFO()).toBe(true);
        expect(await mode(join(root, 'pipes/fifo'))).toBe(0o640);
      });
    });

    it('a view is read-only: its mounts say so', async () => {
      for (const key of ['view-base', 'view-second']) {
        for (const m of await (await image()).mounts(key)) {
          if (m.type === 'bind') expect(m.options).toContain('ro');
          else expect(m.options.some((o) => o.startsWith('upperdir='))).toBe(false);
        }
      }
    });
  });
}
