import type { Change, WhiteoutStyle } from '../changes.js';
import type { Snapshotter } from '../snapshot/port.js';
import { makeBusyboxRootfs } from './busybox-rootfs.js';
import { commitLayer, writeLayer } from './snapshotter-fixtures.js';

/**
 * The two-layer image the snapshotter contract reads back. BASE is a busybox root filesystem plus what
 * the second layer will delete, hide or replace; SECOND holds every kind of entry a layer can carry.
 */
export const BASE = 'sha256:base-chain-id';
export const SECOND = 'sha256:second-chain-id';

export async function buildBaseAndSecond(s: Snapshotter): Promise<void> {
  await commitLayer(s, BASE, undefined, async (dir, style) => {
    await makeBusyboxRootfs(dir);
    await writeLayer(dir, style, [
      { path: 'etc/app', dir: true, mode: 0o755 },
      { path: 'etc/app/a.conf', file: 'a1' },
      { path: 'etc/app/b.conf', file: 'b1' },
      { path: 'etc/app/sub/deep.conf', file: 'd1' },
      { path: 'srv/www/index.html', file: '<h1>hi</h1>' },
      { path: 'opt/tool', file: 'v1', mode: 0o755 },
      { path: 'data/gone.txt', file: 'bye' },
      { path: 'data/stays.txt', file: 'here' },
      { path: 'empty', dir: true },
    ]);
  });
  await commitLayer(s, SECOND, BASE, (dir, style) => writeLayer(dir, style, secondLayer));
}

const secondLayer: Parameters<typeof writeLayer>[2] = [
  { path: 'data/gone.txt', delete: true },
  { path: 'etc/app', opaque: true },
  { path: 'etc/app/c.conf', file: 'c2' },
  { path: 'srv/www', file: 'now a file' },
  { path: 'opt/tool', dir: true, mode: 0o755 },
  { path: 'opt/tool/inner', file: 'x', mode: 0o755 },
  { path: 'links/rel', symlink: '../etc/motd' },
  { path: 'links/abs', symlink: '/etc/motd' },
  { path: 'links/dangling', symlink: '/nowhere/at/all' },
  { path: 'hl/one', file: 'same inode' },
  { path: 'hl/two', hardlink: 'hl/one' },
  { path: 'perm/secret', file: 's', mode: 0o600 },
  { path: 'perm/d755', dir: true, mode: 0o755 },
  { path: 'perm/d2775', dir: true, mode: 0o2775 },
  { path: 'perm/d1777', dir: true, mode: 0o1777 },
  { path: 'perm/suid', file: '#!/bin/sh\n', mode: 0o4755 },
  { path: 'own/u1000', file: 'u', uid: 1000, gid: 1000 },
  { path: 'own/nobody', file: 'n', uid: 65534, gid: 65534 },
  { path: 'own/dir1000', dir: true, uid: 1000, gid: 1000, mode: 0o750 },
  { path: 'hollow/nested', dir: true },
  { path: 'pipes/fifo', fifo: true, mode: 0o640 },
];

/**
 * What a container does on SECOND (through its mounted root), and what changes() must then say.
 * Replacing a directory by a fresh one reads differently but means the same: overlay sees an opaque
 * directory, native sees the old children deleted.
 */
export function expectedContainerChanges(style: WhiteoutStyle): Change[] {
  const replacedDir: Change[] =
    style === 'overlay'
      ? [{ kind: 'C', path: '/etc/app', type: 'dir', opaque: true }]
      : [{ kind: 'C', path: '/etc/app', type: 'dir' }, { kind: 'D', path: '/etc/app/c.conf', type: 'file' }];
  return [
    { kind: 'C', path: '/data', type: 'file' }, // a directory replaced by a file
    { kind: 'D', path: '/empty', type: 'dir' }, // a deleted directory, once
    { kind: 'C', path: '/etc', type: 'dir' }, // a child deleted (and its mtime moved)
    ...replacedDir,
    { kind: 'A', path: '/etc/app/new.conf', type: 'file' },
    { kind: 'D', path: '/etc/motd', type: 'file' },
    { kind: 'C', path: '/etc/passwd', type: 'file' },
    { kind: 'A', path: '/greeting', type: 'file' },
    { kind: 'C', path: '/opt/tool/inner', type: 'file' }, // chmod; /opt and /opt/tool are not changes
    { kind: 'A', path: '/srv2', type: 'dir' },
    { kind: 'A', path: '/srv2/a', type: 'file' },
  ];
}
