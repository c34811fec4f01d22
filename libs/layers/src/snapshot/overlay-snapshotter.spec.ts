import { appendFile, chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commitLayer, writeLayer } from '../testing/snapshotter-fixtures.js';
import { snapshotterContract, type SnapshotterFactory } from '../testing/snapshotter-contract.js';
import { overlayMissing } from './detect.js';
import { mountAll, unmountAll, withMounted } from './mount.js';
import { OverlaySnapshotter } from './overlay-snapshotter.js';
import { opaqueDirectories } from './whiteouts.js';

/** Never skipped: a machine that cannot run overlay fails here, saying what it lacks. */
async function overlayRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'strata-overlay-'));
  const missing = await overlayMissing(root);
  if (missing.length > 0) {
    await rm(root, { recursive: true, force: true });
    throw new Error(`the overlay snapshotter cannot be tested here: ${missing.join('; ')} (run the tests as root on Linux with overlayfs and Debian's attr)`);
  }
  return root;
}

const factory: SnapshotterFactory = async () => {
  const root = await overlayRoot();
  return {
    snapshotter: await OverlaySnapshotter.open(root),
    reopen: () => OverlaySnapshotter.open(root),
    destroy: () => rm(root, { recursive: true, force: true }),
  };
};

snapshotterContract('overlay', factory);

describe('OverlaySnapshotter', () => {
  let root: string;
  let s: OverlaySnapshotter;
  const file = (key: string, name: string) => (dir: string, style: 'overlay' | 'native') => writeLayer(dir, style, [{ path: name, file: key }]);
  beforeEach(async () => {
    root = await overlayRoot();
    s = await OverlaySnapshotter.open(root);
  });
  afterEach(() => root && rm(root, { recursive: true, force: true }));

  it('an active snapshot stacks its parents as lowerdirs, nearest first, over its own upperdir and workdir', async () => {
    await commitLayer(s, 'L1', undefined, file('L1', 'one'));
    await commitLayer(s, 'L2', 'L1', file('L2', 'two'));
    const [mount, ...more] = await s.prepare('ctr', 'L2');
    expect(more).toEqual([]);
    const dir = (n: number) => join(root, 'snapshots', String(n));
    // ids: 1 = L1 (extracted as "extract-L1"), 2 = L2, 3 = ctr
    expect(mount).toEqual({
      type: 'overlay',
      source: 'overlay',
      options: ['index=off', 'redirect_dir=off', 'metacopy=off', `lowerdir=${dir(2)}/fs:${dir(1)}/fs`, `upperdir=${dir(3)}/fs`, `workdir=${dir(3)}/work`],
    });
    expect(await s.writable('ctr')).toEqual({ dir: `${dir(3)}/fs`, style: 'overlay' });
  });

  it('plain bind mounts where overlayfs is not needed: no parent (rw), a view of one layer (ro)', async () => {
    await commitLayer(s, 'L1', undefined, file('L1', 'one'));
    await commitLayer(s, 'L2', 'L1', file('L2', 'two'));
    expect(await s.prepare('scratch')).toEqual([{ type: 'bind', source: join(root, 'snapshots/3/fs'), options: ['rbind', 'rw'] }]);
    expect(await s.view('v1', 'L1')).toEqual([{ type: 'bind', source: join(root, 'snapshots/1/fs'), options: ['rbind', 'ro'] }]);
    const [viewOfTwo] = await s.view('v2', 'L2');
    expect(viewOfTwo.type).toBe('overlay');
    expect(viewOfTwo.options.filter((o) => /^(upper|work)dir=/.test(o))).toEqual([]);
  });

  it('through the mount, the kernel writes the whiteouts: a char device 0/0 for a deleted file, an opaque xattr for a recreated directory', async () => {
    await commitLayer(s, 'L1', undefined, (dir, style) => writeLayer(dir, style, [{ path: 'etc/motd', file: 'hi' }, { path: 'srv/old', file: 'o' }]));
    await s.prepare('ctr', 'L1');
    await withMounted(await s.mounts('ctr'), async (merged) => {
      await rm(join(merged, 'etc/motd'));
      await rm(join(merged, 'srv'), { recursive: true });
      await mkdir(join(merged, 'srv'));
    });
    const { dir } = await s.writable('ctr');
    const whiteout = await lstat(join(dir, 'etc/motd'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
    expect(await opaqueDirectories(dir)).toEqual(new Set(['srv']));
  });

  it('like docker diff on overlay2: a directory copied up only because a file in it changed is not listed', async () => {
    await commitLayer(s, 'L1', undefined, (dir, style) => writeLayer(dir, style, [{ path: 'etc/deep/er/conf', file: 'c' }, { path: 'etc/passwd', file: 'root' }]));
    await s.prepare('ctr', 'L1');
    await withMounted(await s.mounts('ctr'), async (merged) => {
      await appendFile(join(merged, 'etc/deep/er/conf'), '!');
      await chmod(join(merged, 'etc/passwd'), 0o600);
    });
    expect(await readdir(join((await s.writable('ctr')).dir, 'etc'))).toEqual(expect.arrayContaining(['deep', 'passwd']));
    expect(await s.changes('ctr')).toEqual([
      { kind: 'C', path: '/etc/deep/er/conf', type: 'file' },
      { kind: 'C', path: '/etc/passwd', type: 'file' },
    ]);
  });

  it('a stack deeper than one page of mount options still mounts (relative lowerdirs, as containerd does)', async () => {
    let parent: string | undefined;
    for (let i = 0; i < 150; i++) {
      await commitLayer(s, `layer-${i}`, parent, file(`layer-${i}`, `f${i}`));
      parent = `layer-${i}`;
    }
    const [mount] = await s.prepare('ctr', parent);
    expect(mount.options.join(',').length).toBeGreaterThan(4096);
    await withMounted([mount], async (merged) => {
      expect(await readdir(merged)).toHaveLength(150);
      expect(await readFile(join(merged, 'f0'), 'utf8')).toBe('layer-0');
      await writeFile(join(merged, 'top'), 't');
    });
    expect(await s.changes('ctr')).toEqual([{ kind: 'A', path: '/top', type: 'file' }]);
  });

  it('remove refuses a snapshot that is mounted, and deletes its directory once it is not', async () => {
    await commitLayer(s, 'L1', undefined, file('L1', 'one'));
    await s.prepare('ctr', 'L1');
    const target = await mkdtemp(join(tmpdir(), 'strata-target-'));
    await mountAll(await s.mounts('ctr'), target);
    try {
      await expect(s.remove('ctr')).rejects.toMatchObject({ code: 'SNAPSHOT_IN_USE', message: expect.stringContaining(target) });
    } finally {
      await unmountAll(target);
      await rm(target, { recursive: true });
    }
    await s.remove('ctr');
    expect(await readdir(join(root, 'snapshots'))).toEqual(['1']);
  });

  it('the catalog is a compacted file and a journal; leftovers of a crash (a temp catalog, an unnamed directory) are swept on open', async () => {
    await commitLayer(s, 'L1', undefined, file('L1', 'one'));
    expect((await readdir(root)).filter((n) => n.startsWith('metadata')).sort()).toEqual(['metadata.journal', 'metadata.json']);
    await writeFile(join(root, 'metadata.json.999.tmp'), '{"version":1,"snaps'); // torn: a crash mid-write
    await mkdir(join(root, 'snapshots/7/fs'), { recursive: true }); // created, never named
    const again = await OverlaySnapshotter.open(root);
    expect(await again.list()).toEqual([{ key: 'L1', kind: 'committed' }]);
    expect((await readdir(root)).sort()).toEqual(['metadata.journal', 'metadata.json', 'snapshots']);
    expect(await readdir(join(root, 'snapshots'))).toEqual(['1']);
    await again.prepare('next', 'L1');
    expect(await again.writable('next')).toEqual({ dir: join(root, 'snapshots/8/fs'), style: 'overlay' }); // never reuses an id on disk
  });

  it('refuses to open a root that holds native snapshots', async () => {
    const other = await mkdtemp(join(tmpdir(), 'strata-other-'));
    try {
      await writeFile(join(other, 'metadata.json'), JSON.stringify({ version: 1, snapshotter: 'native', nextId: 1, snapshots: [] }));
      await expect(OverlaySnapshotter.open(other)).rejects.toMatchObject({ code: 'SNAPSHOTTER_UNAVAILABLE', message: expect.stringContaining('native') });
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
