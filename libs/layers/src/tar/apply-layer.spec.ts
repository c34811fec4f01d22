import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LayerError } from '../errors.js';
import { isOverlayWhiteout } from '../snapshot/whiteouts.js';
import { streamOf, tarOf, type TarFixtureEntry } from '../testing/tar-fixtures.js';
import { opaqueXattrOf, snapshotTree } from '../testing/tar-tree-snapshot.js';
import { twoLayerImage } from '../testing/tar-two-layer-image.js';
import { applyLayer, type ApplyLayerOptions } from './apply-layer.js';

let work: string;
let target: string;
/** A directory next to the target, standing for "the host": nothing may ever touch it. */
let outside: string;
const SENTINEL = 'host data\n';

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'strata-apply-'));
  target = join(work, 'target');
  outside = join(work, 'outside');
  await mkdir(target);
  await mkdir(outside);
  await writeFile(join(outside, 'sentinel'), SENTINEL);
});
afterEach(() => rm(work, { recursive: true, force: true }));

const apply = async (bytes: Buffer, options: Partial<ApplyLayerOptions> = {}, dir = target) =>
  applyLayer(streamOf(bytes), dir, { style: 'native', ...options });

async function applyRejects(entries: TarFixtureEntry[], options: Partial<ApplyLayerOptions> = {}): Promise<LayerError> {
  const error = await apply(await tarOf(entries), options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LayerError);
  return error as LayerError;
}

async function expectOutsideUntouched() {
  expect(await readdir(outside)).toEqual(['sentinel']);
  expect(await readFile(join(outside, 'sentinel'), 'utf8')).toBe(SENTINEL);
  expect((await stat(join(outside, 'sentinel'))).nlink).toBe(1);
}

const read = (path: string, dir = target) => readFile(join(dir, path), 'utf8');
const exists = (path: string, dir = target) => lstat(join(dir, path)).then(
  () => true,
  () => false,
);

describe('applyLayer: a two-layer image', () => {
  it("native style: the top layer's whiteout deletes, the opaque marker empties, a file replaces a directory", async () => {
    const [base, top] = await twoLayerImage();
    await apply(base);
    const digests = await apply(top);
    expect(digests.diffId).toMatch(/^sha256:[0-9a-f]{64}$/);

    expect(await exists('etc/motd')).toBe(false);
    expect(await read('etc/passwd')).toContain('root');
    expect(await readdir(join(target, 'data'))).toEqual(['new.txt']);
    expect((await stat(join(target, 'data'))).mode & 0o7777).toBe(0o750);
    expect(await read('srv/cache')).toBe('now a file\n');
    // hard links share an inode, including one made by the top layer to a base file
    const tool = await stat(join(target, 'bin/tool'));
    expect((await stat(join(target, 'bin/tool-again'))).ino).toBe(tool.ino);
    expect((await stat(join(target, 'bin/tool-link2'))).ino).toBe(tool.ino);
    expect(tool.nlink).toBe(3);

    const tree = await snapshotTree(target);
    const byPath = Object.fromEntries(tree.map((r) => [r.path, r]));
    expect(byPath['bin/tool']).toMatchObject({ mode: '755', owner: '0:0', mtime: Date.parse('2024-03-01T10:00:00Z') / 1000 });
    expect(byPath['bin/sh']).toMatchObject({ type: 'symlink', content: 'tool' });
    expect(byPath['run/pipe']).toMatchObject({ type: 'fifo', mode: '620' });
    expect(byPath['empty']).toMatchObject({ type: 'dir', mode: '700' });
    expect(byPath['home/user']).toMatchObject({ mode: '700', owner: '1000:1000' });
    expect(byPath['home/user/notes']).toMatchObject({ mode: '600', owner: '1000:1000' });
    // directory times are set after their children were written
    expect(byPath['data']).toMatchObject({ mtime: Date.parse('2024-03-02T10:00:00Z') / 1000 });
  });

  it('overlay style: 0/0 device for the whiteout, opaque xattr, hard link target copied up from the lower layer', async () => {
    const [base, top] = await twoLayerImage({ gzip: true });
    const lower = join(work, 'lower');
    const upper = join(work, 'upper');
    await mkdir(lower);
    await mkdir(upper);
    await apply(base, { style: 'overlay' }, lower);
    const lowerBefore = await snapshotTree(lower);
    const digests = await apply(top, { style: 'overlay', lowerDirs: [lower] }, upper);
    expect(digests.gzip).toBe(true);

    const motd = await lstat(join(upper, 'etc/motd'));
    expect(isOverlayWhiteout(motd)).toBe(true);
    expect(execFileSync('stat', ['-c', '%F %t/%T', join(upper, 'etc/motd')]).toString().trim()).toBe('character special file 0/0');
    expect(opaqueXattrOf(join(upper, 'data'))).toBe('y');
    expect(opaqueXattrOf(join(upper, 'etc'))).toBeUndefined();
    expect(await readdir(join(upper, 'data'))).toEqual(['new.txt']);
    expect(await read('srv/cache', upper)).toBe('now a file\n');
    // copied up: same bytes and metadata as the lower file, linked in the upper layer only
    expect(await read('bin/tool', upper)).toBe('tool v1\n');
    const copied = await stat(join(upper, 'bin/tool'));
    expect(copied.mode & 0o7777).toBe(0o755);
    expect((await stat(join(upper, 'bin/tool-link2'))).ino).toBe(copied.ino);
    expect(await snapshotTree(lower)).toEqual(lowerBefore);
  });

  it('overlay style: a hard link to a file no layer has fails clearly', async () => {
    const error = await applyRejects([{ name: 'x', type: 'link', linkname: 'nowhere' }], { style: 'overlay', lowerDirs: [] });
    expect(error.code).toBe('PATH_NOT_FOUND');
    expect(error.message).toContain('nowhere');
  });

  it('overlay style: a lower file hidden by a higher whiteout is not copied up', async () => {
    const [base] = await twoLayerImage();
    const lower = join(work, 'lower');
    const middle = join(work, 'middle');
    await mkdir(lower);
    await mkdir(middle);
    await apply(base, { style: 'overlay' }, lower);
    await apply(await tarOf([{ name: 'etc/.wh.passwd' }]), { style: 'overlay', lowerDirs: [lower] }, middle);
    const error = await applyRejects([{ name: 'pw', type: 'link', linkname: 'etc/passwd' }], { style: 'overlay', lowerDirs: [middle, lower] });
    expect(error.code).toBe('PATH_NOT_FOUND');
  });

  it('native style: an opaque marker after the layer\'s own children keeps them and drops only the lower ones', async () => {
    await apply(await tarOf([{ name: 'd/', type: 'directory' }, { name: 'd/lower', body: 'l' }, { name: 'd/-mine', body: 'old' }]));
    await apply(await tarOf([{ name: 'd/', type: 'directory' }, { name: 'd/-mine', body: 'new' }, { name: 'd/.wh..wh..opq' }]));
    expect(await readdir(join(target, 'd'))).toEqual(['-mine']);
    expect(await read('d/-mine')).toBe('new');
  });

  it('replaces a directory by a file and a file by a directory', async () => {
    await apply(await tarOf([{ name: 'a/', type: 'directory' }, { name: 'a/child', body: 'c' }, { name: 'b', body: 'file' }]));
    await apply(await tarOf([{ name: 'a', body: 'now a file' }, { name: 'b/', type: 'directory' }, { name: 'b/inner', body: 'i' }]));
    expect(await read('a')).toBe('now a file');
    expect(await read('b/inner')).toBe('i');
  });

  it('unlinks before writing, so a file replaced in a layer does not change its hard links', async () => {
    await apply(await tarOf([{ name: 'one', body: 'v1' }, { name: 'two', type: 'link', linkname: 'one' }]));
    await apply(await tarOf([{ name: 'one', body: 'v2' }]));
    expect(await read('one')).toBe('v2');
    expect(await read('two')).toBe('v1');
  });

  it("clears setuid under 'strip' and keeps it under 'allow'", async () => {
    await apply(await tarOf([{ name: 'su', mode: 0o4755 }, { name: 'shared/', type: 'directory', mode: 0o2775 }]), { setuid: 'strip' });
    expect((await stat(join(target, 'su'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(target, 'shared'))).mode & 0o7777).toBe(0o2775);
    await apply(await tarOf([{ name: 'su2', mode: 0o4755, uid: 1000 }]));
    expect((await stat(join(target, 'su2'))).mode & 0o7777).toBe(0o4755); // chmod after chown kept it
  });

  it('reports progress per entry', async () => {
    const seen: string[] = [];
    await apply(await tarOf([{ name: 'a' }, { name: 'b' }]), { onProgress: (p) => seen.push(`${p.entries}:${p.path}`) });
    expect(seen).toEqual(['1:a', '2:b']);
  });

  it('applies a tar made by GNU tar (gzip, numeric owners, hard links, fifo) into the same tree', async () => {
    const source = join(work, 'source');
    await mkdir(join(source, 'dir/nested'), { recursive: true });
    await writeFile(join(source, 'dir/file'), 'content\n');
    execFileSync('ln', [join(source, 'dir/file'), join(source, 'dir/hard')]);
    await symlink('../dir/file', join(source, 'dir/nested/rel'));
    await symlink('/dir/file', join(source, 'abs'));
    execFileSync('mkfifo', [join(source, 'fifo')]);
    await writeFile(join(source, 'owned'), 'x');
    execFileSync('chown', ['1000:1000', join(source, 'owned')]);
    execFileSync('chmod', ['2750', join(source, 'dir/nested')]);
    execFileSync('touch', ['-h', '-d', '2022-02-02 02:02:02Z', join(source, 'dir/nested/rel')]);
    execFileSync('touch', ['-d', '2021-01-01 01:01:01Z', join(source, 'dir/nested'), join(source, 'dir')]);
    for (const format of ['gnu', 'posix']) {
      const dest = join(work, `dest-${format}`);
      await mkdir(dest);
      const blob = execFileSync('tar', [`--format=${format}`, '--numeric-owner', '-C', source, '-czf', '-', '.']);
      const digests = await apply(blob, {}, dest);
      expect(digests.gzip).toBe(true);
      expect(await snapshotTree(dest)).toEqual(await snapshotTree(source));
    }
  });
});

describe('applyLayer: hostile archives never write outside the target', () => {
  it('refuses ".." and writes nothing outside', async () => {
    const error = await applyRejects([{ name: '../outside/sentinel', body: 'pwned' }]);
    expect(error.code).toBe('UNSAFE_PATH');
    await expectOutsideUntouched();
  });

  it('puts an absolute path inside the target', async () => {
    await apply(await tarOf([{ name: `${outside}/sentinel`, body: 'pwned' }]));
    expect(await read(`${outside.slice(1)}/sentinel`)).toBe('pwned');
    await expectOutsideUntouched();
  });

  it('refuses a symlink climbing out of the root, and nothing is written through it', async () => {
    const error = await applyRejects([
      { name: 'escape', type: 'symlink', linkname: '../outside' },
      { name: 'escape/sentinel', body: 'pwned' },
    ]);
    expect(error.code).toBe('LINK_ESCAPE');
    await expectOutsideUntouched();
  });

  it('refuses a hard link out of the root', async () => {
    const error = await applyRejects([{ name: 'grab', type: 'link', linkname: '../outside/sentinel' }]);
    expect(error.code).toBe('LINK_ESCAPE');
    await expectOutsideUntouched();
  });

  it('follows a symlinked parent inside the root: "evil -> /outside" then "evil/sentinel" writes target/outside/sentinel', async () => {
    await apply(await tarOf([
      { name: 'evil', type: 'symlink', linkname: outside },
      { name: 'evil/sentinel', body: 'pwned' },
      { name: 'rel', type: 'symlink', linkname: 'evil' },
      { name: 'rel/second', body: 'also inside' },
    ]));
    await expectOutsideUntouched();
    expect(await read(`${outside.slice(1)}/sentinel`)).toBe('pwned');
    expect(await read(`${outside.slice(1)}/second`)).toBe('also inside');
  });

  it('does not delete through a symlinked parent: "evil -> /outside" then "evil/.wh.sentinel"', async () => {
    await apply(await tarOf([{ name: 'evil', type: 'symlink', linkname: outside }]));
    await apply(await tarOf([{ name: 'evil/.wh.sentinel' }]));
    await expectOutsideUntouched();
  });

  it('does not empty a directory through a symlinked parent: "evil -> /outside" then "evil/.wh..wh..opq"', async () => {
    await apply(await tarOf([{ name: 'evil', type: 'symlink', linkname: outside }]));
    await apply(await tarOf([{ name: 'evil/.wh..wh..opq' }]));
    await expectOutsideUntouched();
    const overlayTarget = join(work, 'upper');
    await mkdir(overlayTarget);
    await apply(await tarOf([{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/.wh..wh..opq' }]), { style: 'overlay' }, overlayTarget);
    expect(opaqueXattrOf(outside)).toBeUndefined();
    expect(opaqueXattrOf(join(overlayTarget, outside.slice(1)))).toBe('y');
    await expectOutsideUntouched();
  });

  it('does not link through a symlinked parent: "evil -> /outside" then a hard link to "evil/sentinel"', async () => {
    const error = await applyRejects([
      { name: 'evil', type: 'symlink', linkname: outside },
      { name: 'grab', type: 'link', linkname: 'evil/sentinel' },
    ]);
    expect(error.code).toBe('PATH_NOT_FOUND');
    await expectOutsideUntouched();
  });

  it('does not write through an existing symlink at the path itself: it is replaced', async () => {
    await symlink(join(outside, 'sentinel'), join(target, 'file'));
    await apply(await tarOf([{ name: 'file', body: 'pwned' }]));
    expect(await read('file')).toBe('pwned');
    expect((await lstat(join(target, 'file'))).isSymbolicLink()).toBe(false);
    await expectOutsideUntouched();
  });

  it('refuses a device node and creates none', async () => {
    const error = await applyRejects([{ name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1 }]);
    expect(error.code).toBe('DEVICE_NODE');
    expect(await exists('dev/mem')).toBe(false);
  });

  it("refuses a setuid file under 'reject'", async () => {
    const error = await applyRejects([{ name: 'su', mode: 0o4755 }], { setuid: 'reject' });
    expect(error.code).toBe('SETUID_NOT_ALLOWED');
    expect(await exists('su')).toBe(false);
  });

  it('refuses a duplicate entry', async () => {
    expect((await applyRejects([{ name: 'a', body: '1' }, { name: 'a', body: '2' }])).code).toBe('DUPLICATE_ENTRY');
  });

  it('refuses a truncated stream', async () => {
    const bytes = await tarOf([{ name: 'a', body: Buffer.alloc(5000, 1) }]);
    const error = await apply(bytes.subarray(0, 2048)).catch((e: unknown) => e);
    expect((error as LayerError).code).toBe('TRUNCATED_ARCHIVE');
  });
});
