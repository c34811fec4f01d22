import { execFile } from 'node:child_process';
import { chown, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Test helper: runs unprivileged-snapshotter.child.ts as uid/gid 65534 (setpriv, util-linux) on a fresh root
 * that user owns, and returns what it printed. Needs root to drop to another user.
 */
export async function runUnprivileged(): Promise<{ root: string; output: any }> {
  const root = await mkdtemp(join(tmpdir(), 'strata-unprivileged-'));
  await chown(root, 65534, 65534);
  const script = fileURLToPath(new URL('./unprivileged-snapshotter.child.ts', import.meta.url));
  const repo = fileURLToPath(new URL('../../../../', import.meta.url));
  const { stdout } = await run(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', script, join(root, 'snapshots')],
    { cwd: repo, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, TSX_DISABLE_CACHE: '1' } },
  );
  return { root, output: JSON.parse(stdout.trim().split('\n').at(-1)!) };
}
