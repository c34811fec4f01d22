import { readFile } from 'node:fs/promises';

/** One line of /proc/self/mountinfo (proc(5)): where something is mounted, and from what. */
export interface MountInfo {
  /** The directory within its filesystem that is mounted (a bind mount's source, as seen from that filesystem's root). */
  root: string;
  mountPoint: string;
  fsType: string;
  /** The filesystem's own options; for overlay they name lowerdir, upperdir and workdir. */
  superOptions: string;
}

export async function readMountInfo(): Promise<MountInfo[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    // "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw,errors=continue": optional fields end at "-".
    const [before, after = ''] = line.split(' - ');
    const fields = before.split(' ');
    const [fsType = '', _source, superOptions = ''] = after.split(' ');
    mounts.push({ root: unescapeOctal(fields[3] ?? ''), mountPoint: unescapeOctal(fields[4] ?? ''), fsType, superOptions: unescapeOctal(superOptions) });
  }
  return mounts;
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await readMountInfo()).some((m) => m.mountPoint === path);
}

/**
 * Mounts that would break if `dir` (absolute, no trailing slash) were deleted: something mounted at or
 * under it, an overlay using a directory inside it as a layer, or a bind mount of it. A best-effort guard:
 * a bind's root is relative to its filesystem (for our data directory usually the root one), and an
 * overlay mounted with relative layer paths (stacks over a page of options) names them relatively.
 */
export async function mountsUsing(dir: string): Promise<MountInfo[]> {
  const inside = (path: string) => path === dir || path.startsWith(dir + '/');
  return (await readMountInfo()).filter(
    (m) =>
      inside(m.mountPoint) ||
      (m.fsType === 'overlay' && m.superOptions.split(/[,:=]/).some(inside)) ||
      (m.root !== '/' && inside(m.root)),
  );
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040). */
function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
