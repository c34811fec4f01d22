import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fitOverlayOptions, mountAll, unmountAll, withMounted } from './mount.js';
import { isMountPoint } from './mountinfo.js';

describe('mounting snapshots', () => {
  let dir: string;
  let lower1: string, lower2: string, upper: string, work: string;
  const overlay = () => ({ type: 'overlay' as const, source: 'overlay', options: [`lowerdir=${lower1}:${lower2}`, `upperdir=${upper}`, `workdir=${work}`] });
  beforeEach(async () => {
    if (process.getuid?.() !== 0) throw new Error('mount tests need root (they mount overlay and bind mounts for real)');
    dir = await mkdtemp(join(tmpdir(), 'strata-mount-test-'));
    [lower1, lower2, upper, work] = ['l1', 'l2', 'u', 'w'].map((d) => join(dir, d));
    for (const d of [lower1, lower2, upper, work]) await mkdir(d);
    await writeFile(join(lower1, 'top'), 'from l1');
    await writeFile(join(lower2, 'bottom'), 'from l2');
  });
  afterEach(() => dir && rm(dir, { recursive: true, force: true }));

  it('withMounted hands a single bind mount over as its source directory, mounting nothing', async () => {
    const seen = await withMounted([{ type: 'bind', source: lower1, options: ['rbind', 'ro'] }], async (root) => root);
    expect(seen).toBe(lower1);
  });

  it('withMounted mounts anything else on a temporary directory, and unmounts and removes it afterwards', async () => {
    let target = '';
    const listing = await withMounted([overlay()], async (root) => {
      target = root;
      expect(await isMountPoint(root)).toBe(true);
      await writeFile(join(root, 'new'), 'n');
      return (await readdir(root)).sort();
    });
    expect(listing).toEqual(['bottom', 'new', 'top']);
    expect(await isMountPoint(target)).toBe(false);
    await expect(access(target)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(join(upper, 'new'), 'utf8')).toBe('n');
  });

  it('withMounted unmounts even when the work inside fails', async () => {
    let target = '';
    await expect(
      withMounted([overlay()], async (root) => {
        target = root;
        throw new Error('inside');
      }),
    ).rejects.toThrow('inside');
    expect(await isMountPoint(target)).toBe(false);
  });

  it('a failed mount says which mount and why', async () => {
    const missing = join(dir, 'no-such-lower');
    const broken = { type: 'overlay' as const, source: 'overlay', options: [`lowerdir=${missing}:${lower2}`, `upperdir=${upper}`, `workdir=${work}`] };
    await expect(withMounted([broken], async () => undefined)).rejects.toThrow(/mount -t overlay overlay -o lowerdir=.*no-such-lower.* failed: .+/);
    await expect(mountAll([], dir)).rejects.toThrow(/nothing to mount/);
  });

  it('unmountAll takes off every mount stacked on a target, and leaves a plain directory alone', async () => {
    const target = join(dir, 'target');
    await mkdir(target);
    await unmountAll(target);
    await mountAll([{ type: 'bind', source: lower1, options: ['rbind', 'ro'] }, { type: 'bind', source: lower2, options: ['rbind', 'ro'] }], target);
    expect(await readdir(target)).toEqual(['bottom']);
    await expect(writeFile(join(target, 'x'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    await unmountAll(target);
    expect(await isMountPoint(target)).toBe(false);
    expect(await readdir(target)).toEqual([]);
  });

  it('overlay options over a page are rewritten relative to the layers\u2019 common parent', () => {
    expect(fitOverlayOptions(['lowerdir=/a/1/fs:/a/2/fs', 'upperdir=/a/3/fs'])).toEqual({ options: 'lowerdir=/a/1/fs:/a/2/fs,upperdir=/a/3/fs' });
    const lowers = Array.from({ length: 200 }, (_, i) => `/var/lib/strata/snapshots/${i}/fs`);
    const fitted = fitOverlayOptions(['index=off', `lowerdir=${lowers.join(':')}`, 'upperdir=/var/lib/strata/snapshots/999/fs', 'workdir=/var/lib/strata/snapshots/999/work']);
    expect(fitted.cwd).toBe('/var/lib/strata/snapshots');
    expect(fitted.options).toMatch(/^index=off,lowerdir=0\/fs:1\/fs:.*:199\/fs,upperdir=999\/fs,workdir=999\/work$/);
  });
});
