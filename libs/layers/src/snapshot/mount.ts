import { execFile } from 'node:child_process';
import { mkdtemp, realpath, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { layerUnavailable } from '../errors.js';
import { isMountPoint } from './mountinfo.js';
import type { Mount } from './port.js';

const run = promisify(execFile);

/** mount(2) takes at most one page of options; longer overlay stacks are mounted with relative layer paths. */
const MAX_OPTIONS = 4095;

/**
 * Mounts `mounts` one over the other onto `target` (containerd's semantics: usually there is one), with
 * mount(8), so that what fails says why in mount's own words. Needs root.
 */
export async function mountAll(mounts: Mount[], target: string): Promise<void> {
  if (mounts.length === 0) throw new Error(`nothing to mount on ${target}: the snapshot has no mounts`);
  for (const m of mounts) {
    if (m.type === 'overlay') {
      const { options, cwd } = fitOverlayOptions(m.options);
      await mountCommand(['-t', 'overlay', m.source, '-o', options, target], cwd);
    } else {
      const options = m.options.some((o) => o === 'bind' || o === 'rbind') ? m.options : ['rbind', ...m.options];
      await mountCommand(['-o', options.join(','), m.source, target]);
    }
  }
}

/** Unmounts everything stacked on `target`, topmost first, until it is a plain directory again. */
export async function unmountAll(target: string): Promise<void> {
  // mountinfo names mount points by their real path (TMPDIR may go through a symlink).
  const real = await realpath(target).catch((error) => {
    if (error?.code === 'ENOENT') return undefined;
    throw error;
  });
  for (let layer = 0; real !== undefined && layer < 64 && (await isMountPoint(real)); layer++) {
    for (let attempt = 1; ; attempt++) {
      try {
        await run('umount', [real]);
        break;
      } catch (error: any) {
        const busy = /busy/i.test(String(error?.stderr ?? ''));
        // A process that just finished reading may still hold the mount for a moment.
        if (!busy || attempt === 5) throw commandError('umount', [real], error);
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }
}

/**
 * Runs `fn` with the snapshot's root directory. A single bind mount is handed over as its source
 * directory, unmounted: that is all a native snapshot ever is, so native works without root (read-only
 * is then a promise of the caller, not enforced). Anything else is mounted on a temporary directory
 * that is always unmounted afterwards.
 */
export async function withMounted<T>(mounts: Mount[], fn: (root: string) => Promise<T>): Promise<T> {
  if (mounts.length === 1 && mounts[0].type === 'bind') return fn(mounts[0].source);
  const target = await mkdtemp(join(tmpdir(), 'strata-mount-'));
  try {
    await mountAll(mounts, target);
    return await fn(target);
  } finally {
    // Also after a half-done mountAll. If this throws, a leaked mount is the error worth hearing about.
    await unmountAll(target);
    await rmdir(target);
  }
}

async function mountCommand(args: string[], cwd?: string): Promise<void> {
  try {
    await run('mount', args, { cwd });
  } catch (error: any) {
    throw commandError('mount', args, error);
  }
}

function commandError(command: string, args: string[], error: any): Error {
  if (error?.code === 'ENOENT') return layerUnavailable('SNAPSHOTTER_UNAVAILABLE', `${command}(8) not found: install util-linux (mount)`);
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0) {
    return layerUnavailable('SNAPSHOTTER_UNAVAILABLE', `${command} ${args.at(-1)} needs root (running as uid ${uid}): ${String(error?.stderr ?? error?.message).trim()}`);
  }
  const shown = args.map((a) => (a.length > 200 ? a.slice(0, 200) + '…' : a)).join(' ');
  return new Error(`${command} ${shown} failed: ${String(error?.stderr || error?.message).trim()}`, { cause: error });
}

/**
 * Overlay options longer than a page are rewritten with layer paths relative to their common parent
 * directory and mounted from there, as containerd does: the kernel resolves them against the caller's
 * working directory. `<root>/snapshots/<n>/fs` then costs a few bytes per layer.
 */
export function fitOverlayOptions(options: string[]): { options: string; cwd?: string } {
  const joined = options.join(',');
  if (joined.length <= MAX_OPTIONS) return { options: joined };
  const paths = options.flatMap((o) => {
    const [name, value = ''] = splitOption(o);
    return ['lowerdir', 'upperdir', 'workdir'].includes(name) ? value.split(':') : [];
  });
  const cwd = commonParent(paths);
  const rel = (p: string) => relative(cwd, p) || '.';
  const rewritten = options.map((o) => {
    const [name, value = ''] = splitOption(o);
    if (!['lowerdir', 'upperdir', 'workdir'].includes(name)) return o;
    return `${name}=${value.split(':').map(rel).join(':')}`;
  });
  const compact = rewritten.join(',');
  if (compact.length > MAX_OPTIONS) {
    throw new Error(`overlay options are ${compact.length} bytes even with relative paths (limit ${MAX_OPTIONS}): too many layers (${paths.length})`);
  }
  return { options: compact, cwd };
}

function splitOption(option: string): [string, string?] {
  const at = option.indexOf('=');
  return at < 0 ? [option] : [option.slice(0, at), option.slice(at + 1)];
}

function commonParent(paths: string[]): string {
  let common = dirname(paths[0] ?? '/');
  while (!paths.every((p) => p === common || p.startsWith(common.endsWith(sep) ? common : common + sep))) common = dirname(common);
  return common;
}
