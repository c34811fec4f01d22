// Run by runUnprivileged() (unprivileged-snapshotter.ts) as an unprivileged user (uid 65534), to show
// that the node picks the native snapshotter without root and that it works: prints one JSON line.
import { lstat, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openSnapshotter } from '../snapshot/detect.js';
import { withMounted } from '../snapshot/mount.js';
import { commitLayer, writeLayer } from './snapshotter-fixtures.js';

const root = process.argv[2];
const opened = await openSnapshotter(root);
const overlayRefusal = await openSnapshotter(root, { prefer: 'overlay' }).then(
  () => undefined,
  (error) => ({ code: error.code, message: error.message }),
);
const s = opened.snapshotter;
await commitLayer(s, 'base', undefined, (dir, style) =>
  writeLayer(dir, style, [
    { path: 'etc/motd', file: 'hi' },
    { path: 'etc/secret', file: 's', mode: 0o600 },
    { path: 'bin/tool', file: 't', mode: 0o755 },
    { path: 'bin/alias', hardlink: 'bin/tool' },
    { path: 'bin/sh', symlink: 'tool' },
    { path: 'run/fifo', fifo: true },
  ]),
);
await s.prepare('ctr', 'base');
const seen = await withMounted(await s.mounts('ctr'), async (rootfs) => {
  await rm(join(rootfs, 'etc/motd'));
  await writeFile(join(rootfs, 'greeting'), 'hello');
  const [tool, alias] = [await lstat(join(rootfs, 'bin/tool')), await lstat(join(rootfs, 'bin/alias'))];
  return { hardLinked: tool.ino === alias.ino, secretMode: (await lstat(join(rootfs, 'etc/secret'))).mode & 0o777, fifo: (await lstat(join(rootfs, 'run/fifo'))).isFIFO(), secret: await readFile(join(rootfs, 'etc/secret'), 'utf8') };
});
console.log(JSON.stringify({ uid: process.getuid?.(), reason: opened.reason, name: s.name, overlayRefusal, seen, changes: await s.changes('ctr') }));
