/**
 * `--node-from=HEAD` (or any commit): the node the layers, HTTP and registry workloads start is built
 * from a clean `git archive` of that commit in os.tmpdir()/strata-bench-node-<commit> (node_modules a
 * symlink to the repository's), not from the working tree — others may be halfway through a change of
 * apps/ or libs/ that does not start. Built once per commit and kept for later runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NODE_ENTRY = 'dist/apps/strata/apps/strata/src/main.js';

export function buildCommit(root: string, ref: string, log: (s: string) => void): { root: string; state: string; commit: string } {
  const commit = execFileSync('git', ['rev-parse', '--short', ref], { cwd: root }).toString().trim();
  const dir = join(tmpdir(), `strata-bench-node-${commit}`);
  if (existsSync(join(dir, NODE_ENTRY))) {
    log(`  build: ${ref} (${commit}) already built in ${dir}`);
    return { root: dir, state: `commit ${commit} (clean export, built earlier)`, commit };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C '${dir}'`], { cwd: root });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    log(`  build: npm run build of a clean export of ${ref} (${commit}) in ${dir} ...`);
    const t0 = performance.now();
    const r = spawnSync('npm', ['run', 'build'], { cwd: dir, encoding: 'utf8', timeout: 10 * 60_000 });
    if (r.status !== 0) throw new Error(`npm run build of ${commit} failed (${r.status ?? r.signal}): ${`${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-15).join('\n')}`);
    const state = `commit ${commit} (clean export, built in ${((performance.now() - t0) / 1000).toFixed(0)} s)`;
    log(`  build: ${state}`);
    return { root: dir, state, commit };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
