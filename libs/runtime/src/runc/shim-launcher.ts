import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from './runtime-error.js';
import { SHIM_FILES } from './shim-files.js';

/**
 * The shim's script, next to this module: the source under vitest, the copy in dist/ after
 * `nest build` (nest-cli.json's "assets" of the strata app copies libs/runtime/src/**\/*.mjs).
 */
export const SHIM_SCRIPT = fileURLToPath(new URL('./shim.mjs', import.meta.url));

export interface ShimArgs {
  id: string;
  stateDir: string;
  bundle: string;
  runc: string;
  runcRoot: string;
}

/**
 * Starts a container's shim in its own session (detached), unreferenced, so it neither holds the node
 * open nor dies with it. Its stderr goes to shim.log; it has no other channel back. `exited()` says
 * whether it has already ended (then, without an exit.json, it crashed).
 */
export async function launchShim(args: ShimArgs): Promise<{ exited: () => boolean }> {
  if (!existsSync(SHIM_SCRIPT)) {
    throw new RuntimeError('UNAVAILABLE', `the runtime's shim script is missing at ${SHIM_SCRIPT}: the build must copy libs/runtime/src/**/*.mjs (nest-cli.json assets)`);
  }
  const stderr = await open(join(args.stateDir, SHIM_FILES.shimLog), 'a');
  try {
    const child = spawn(process.execPath, [SHIM_SCRIPT, JSON.stringify(args)], { detached: true, stdio: ['ignore', 'ignore', stderr.fd], cwd: args.stateDir });
    let exited = false;
    child.once('exit', () => (exited = true));
    child.unref();
    return { exited: () => exited };
  } finally {
    await stderr.close();
  }
}
