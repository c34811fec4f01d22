import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Runs a system tool; if it is not installed, says which package the test harness should have installed. */
export function tool(command: string, args: string[], options: { cwd?: string; input?: Buffer } = {}): Buffer {
  try {
    return execFileSync(command, args, { cwd: options.cwd, input: options.input, maxBuffer: 1024 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error: any) {
    if (error?.code === 'ENOENT') throw new Error(`${command} is not installed: run scripts/ensure-system-deps.sh (npm test does) or apt-get install it`, { cause: error });
    throw new Error(`${command} ${args.join(' ')} failed: ${error?.stderr?.toString() || error?.message}`, { cause: error });
  }
}

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'other';
  mode: string;
  uid: number;
  gid: number;
  /** sha256 of a file's bytes, a symlink's target. */
  content?: string;
}

/**
 * A directory tree as path → what a file-by-file comparison cares about: type, permission bits,
 * owner, content (hashed) and link targets. Times are left out: tools may legitimately differ there.
 */
export function treeOf(root: string): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const full = join(root, path);
      const st = lstatSync(full);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[path] = { type: 'dir', mode, uid: st.uid, gid: st.gid };
        walk(path);
      } else if (st.isSymbolicLink()) {
        out[path] = { type: 'symlink', mode: 'l', uid: st.uid, gid: st.gid, content: readlinkSync(full) };
      } else if (st.isFile()) {
        out[path] = { type: 'file', mode, uid: st.uid, gid: st.gid, content: createHash('sha256').update(readFileSync(full)).digest('hex') };
      } else {
        out[path] = { type: st.isFIFO() ? 'fifo' : 'other', mode, uid: st.uid, gid: st.gid };
      }
    }
  };
  walk('');
  return out;
}

/** The directory as a tar (GNU tar, numeric owners), for uploading a layout or a rootfs. */
export const tarOf = (dir: string): Buffer => tool('tar', ['--numeric-owner', '-C', dir, '-cf', '-', '.']);
