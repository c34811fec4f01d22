import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { layerUnavailable } from '../errors.js';
import { catalogHoldsSnapshots } from './catalog.js';
import { mountAll, unmountAll } from './mount.js';
import { NativeSnapshotter } from './native-snapshotter.js';
import { OverlaySnapshotter } from './overlay-snapshotter.js';
import type { Snapshotter } from './port.js';
import { OPAQUE_XATTR, opaqueDirectories } from './whiteouts.js';

const run = promisify(execFile);

export interface OpenSnapshotterOptions {
  /** `auto` (default): overlay when this machine can, else native. `overlay`: fail if it cannot. */
  prefer?: 'overlay' | 'native' | 'auto';
}

export interface OpenedSnapshotter {
  snapshotter: Snapshotter;
  /** Why this one, for the node to log: "overlay: …" or "native: not root" and the like. */
  reason: string;
}

/**
 * Opens the node's snapshotter under `root`: `<root>/overlay` or `<root>/native` (each keeps its own
 * catalog, since their layers are not interchangeable). `auto` stays with native when only native
 * snapshots exist there, so a node that gains root later does not lose its containers' layers.
 */
export async function openSnapshotter(root: string, options: OpenSnapshotterOptions = {}): Promise<OpenedSnapshotter> {
  const prefer = options.prefer ?? 'auto';
  const nativeRoot = join(root, 'native');
  const overlayRoot = join(root, 'overlay');
  if (prefer === 'native') return { snapshotter: await NativeSnapshotter.open(nativeRoot), reason: 'native: chosen by configuration' };

  if (prefer === 'auto' && (await holdsSnapshots(nativeRoot)) && !(await holdsSnapshots(overlayRoot))) {
    return { snapshotter: await NativeSnapshotter.open(nativeRoot), reason: `native: ${nativeRoot} already holds snapshots (prefer overlay to switch)` };
  }
  const missing = await overlayMissing(overlayRoot);
  if (missing.length === 0) {
    return { snapshotter: await OverlaySnapshotter.open(overlayRoot), reason: `overlay: root, kernel overlayfs and a probe mount in ${overlayRoot} work` };
  }
  if (prefer === 'overlay') {
    throw layerUnavailable('SNAPSHOTTER_UNAVAILABLE', `the overlay snapshotter cannot run here: ${missing.join('; ')}`, { missing });
  }
  return { snapshotter: await NativeSnapshotter.open(nativeRoot), reason: `native: ${missing.join('; ')}` };
}

/**
 * What the overlay snapshotter lacks on this machine, in words a person can act on; empty when it can
 * run with its data under `root` (a probe mount there proves the filesystem takes overlay and xattrs).
 */
export async function overlayMissing(root: string): Promise<string[]> {
  const missing: string[] = [];
  const uid = process.getuid?.();
  if (uid !== 0) missing.push(`not root (uid ${uid ?? 'unknown'})`);
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\toverlay$/m.test(filesystems)) missing.push("no kernel overlayfs ('overlay' is not in /proc/filesystems; try modprobe overlay)");
  for (const tool of ['setfattr', 'getfattr']) {
    if (!(await runs(tool))) missing.push(`${tool} not found (install Debian's attr package)`);
  }
  if (missing.length > 0) return missing;
  try {
    await probeMount(root);
  } catch (error: any) {
    missing.push(`a probe overlay mount in ${root} failed: ${error?.message ?? error}`);
  }
  return missing;
}

/** Two lowers, an upper and a work dir: the merged view must show both, and a delete must leave a kernel whiteout. */
async function probeMount(root: string): Promise<void> {
  await mkdir(root, { recursive: true });
  const probe = await mkdtemp(join(root, '.probe-'));
  const [lower1, lower2, upper, work, merged] = ['l1', 'l2', 'u', 'w', 'm'].map((d) => join(probe, d));
  try {
    for (const dir of [lower1, lower2, upper, work, merged]) await mkdir(dir);
    await writeFile(join(lower1, 'a'), 'a');
    await writeFile(join(lower2, 'b'), 'b');
    await mkdir(join(lower2, 'o'));
    await run('setfattr', ['-n', OPAQUE_XATTR, '-v', 'y', join(lower2, 'o')]);
    if (!(await opaqueDirectories(lower2)).has('o')) throw new Error(`the filesystem under ${root} does not keep trusted.* xattrs`);
    await mountAll([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lower1}:${lower2}`, `upperdir=${upper}`, `workdir=${work}`] }], merged);
    try {
      await readFile(join(merged, 'b'));
      await rm(join(merged, 'a'));
      if (!(await lstat(join(upper, 'a'))).isCharacterDevice()) throw new Error('deleting a lower file left no whiteout');
    } finally {
      await unmountAll(merged);
    }
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

async function runs(tool: string): Promise<boolean> {
  try {
    await run(tool, ['--version']);
    return true;
  } catch (error: any) {
    return error?.code !== 'ENOENT';
  }
}

async function holdsSnapshots(root: string): Promise<boolean> {
  return catalogHoldsSnapshots(root);
}
