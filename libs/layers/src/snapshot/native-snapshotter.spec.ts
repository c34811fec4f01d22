import { execFileSync } from 'node:child_process';
import { chown, lstat, mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commitLayer, hashTree, writeLayer } from '../testing/snapshotter-fixtures.js';
import { snapshotterContract, type SnapshotterFactory } from '../testing/snapshotter-contract.js';
import { runUnprivileged } from '../testing/unprivileged-snapshotter.js';
import { withMounted } from './mount.js';
import { NativeSnapshotter } from './native-snapshotter.js';

const factory: SnapshotterFactory = async () => {
  const root = await mkdtemp(join(tmpdir(), 'strata-native-'));
  return {
    snapshotter: await NativeSnapshotter.open(root),
    reopen: () => NativeSnapshotter.open(root),
    destroy: () => rm(root, { recursive: true, force: true }),
  };
};

snapshotterContract('native', factory);

describe('NativeSnapshotter', () => {
  let root: string;
  let s: NativeSnapshotter;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-native-'));
    s = await NativeSnapshotter.open(root);
  });
  afterEach(() => root && rm(root, { recursive: true, force: true }));

  it('prepare copies the parent whole: the copy hashes the same (modes, owners, times, links, fifos) and keeps xattrs', async () => {
    await commitLayer(s, 'L1', undefined, async (dir, style) => {
      await writeLayer(dir, style, [
        { path: 'a/file', file: 'x', mode: 0o4750, uid: 1000, gid: 65534 },
        { path: 'a/link', hardlink: 'a/file' },
        { path: 'a/sym', symlink: '../nowhere' },
        { path: 'a/fifo', fifo: true },
        { path: 'a/empty', dir: true, mode: 0o2775 },
      ]);
      execFileSync('setfattr', ['-n', 'user.note', '-v', 'kept', join(dir, 'a/file')]);
    });
    await s.prepare('ctr', 'L1');
    const [view] = await s.view('v', 'L1');
    const { dir } = await s.writable('ctr');
    expect(await hashTree(dir)).toBe(await hashTree(view.source));
    expect(execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'user.note', join(dir, 'a/file')], { encoding: 'utf8' })).toBe('kept');
    expect((await lstat(join(dir, 'a/link'))).ino).toBe((await lstat(join(dir, 'a/file'))).ino);
    expect((await lstat(join(dir, 'a/file'))).ino).not.toBe((await lstat(join(view.source, 'a/file'))).ino);
  });

  it('a view is no copy: it is its parent, bound read-only', async () => {
    await commitLayer(s, 'L1', undefined, (dir, style) => writeLayer(dir, style, [{ path: 'one', file: '1' }]));
    expect(await s.view('v', 'L1')).toEqual([{ type: 'bind', source: join(root, 'snapshots/1/fs'), options: ['rbind', 'ro'] }]);
    expect(await s.prepare('ctr', 'L1')).toEqual([{ type: 'bind', source: join(root, 'snapshots/3/fs'), options: ['rbind', 'rw'] }]);
    expect((await s.usage('v')).inodes).toBe(1);
  });

  it('changes: what only lstat can see (mtime in ns, owner, a retargeted symlink), type swaps, and a deleted tree once', async () => {
    await commitLayer(s, 'L1', undefined, (dir, style) =>
      writeLayer(dir, style, [
        { path: 'touched', file: 'same' },
        { path: 'owned', file: 'o' },
        { path: 'sym', symlink: 'a' },
        { path: 'was-file', file: 'f' },
        { path: 'was-dir/child', file: 'c' },
        { path: 'tree/deep/deeper/leaf', file: 'l' },
      ]),
    );
    await s.prepare('ctr', 'L1');
    await withMounted(await s.mounts('ctr'), async (rootfs) => {
      const before = await lstat(join(rootfs, 'touched'), { bigint: true });
      await utimes(join(rootfs, 'touched'), before.atime, new Date(Number(before.mtimeNs / 1_000_000n) + 1));
      await chown(join(rootfs, 'owned'), 1000, 1000);
      await rm(join(rootfs, 'sym'));
      await symlink('b', join(rootfs, 'sym'));
      await rm(join(rootfs, 'was-file'));
      await mkdir(join(rootfs, 'was-file'));
      await writeFile(join(rootfs, 'was-file/inside'), 'i');
      await rm(join(rootfs, 'was-dir'), { recursive: true });
      await writeFile(join(rootfs, 'was-dir'), 'now a file');
      await rm(join(rootfs, 'tree'), { recursive: true });
    });
    expect(await s.changes('ctr')).toEqual([
      { kind: 'C', path: '/owned', type: 'file' },
      { kind: 'C', path: '/sym', type: 'symlink' },
      { kind: 'C', path: '/touched', type: 'file' },
      { kind: 'D', path: '/tree', type: 'dir' },
      { kind: 'C', path: '/was-dir', type: 'file' },
      { kind: 'C', path: '/was-file', type: 'dir' },
      { kind: 'A', path: '/was-file/inside', type: 'file' },
    ]);
  });

  it('remove deletes the copy', async () => {
    await commitLayer(s, 'L1', undefined, (dir, style) => writeLayer(dir, style, [{ path: 'one', file: '1' }]));
    await s.prepare('ctr', 'L1');
    await s.remove('ctr');
    expect(await readdir(join(root, 'snapshots'))).toEqual(['1']);
  });

  it('works without root, and is what the node picks there (overlay refused, saying why)', async () => {
    const { root: unprivileged, output } = await runUnprivileged();
    try {
      expect(output).toMatchObject({ uid: 65534, name: 'native', reason: 'native: not root (uid 65534)' });
      expect(output.overlayRefusal).toEqual({ code: 'SNAPSHOTTER_UNAVAILABLE', message: expect.stringContaining('not root (uid 65534)') });
      expect(output.seen).toEqual({ hardLinked: true, secretMode: 0o600, fifo: true, secret: 's' });
      expect(output.changes).toEqual([
        { kind: 'C', path: '/etc', type: 'dir' },
        { kind: 'D', path: '/etc/motd', type: 'file' },
        { kind: 'A', path: '/greeting', type: 'file' },
      ]);
    } finally {
      await rm(unprivileged, { recursive: true, force: true });
    }
  });
});
