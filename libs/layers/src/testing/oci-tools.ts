import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The Debian package that provides each tool the OCI tests run (scripts/ensure-system-deps.sh installs them). */
const PACKAGES: Record<string, string> = { umoci: 'umoci', skopeo: 'skopeo', tar: 'tar' };

/** Fails (never skips) with a message naming the tool when it is not installed. */
export async function requireTool(name: 'umoci' | 'skopeo' | 'tar'): Promise<void> {
  try {
    await exec(name, ['--version']);
  } catch (error) {
    throw new Error(`${name} is required by this test and is not installed or not runnable: install Debian's ${PACKAGES[name]} package`, { cause: error });
  }
}

/** Runs a tool; on failure the error carries its stderr, so a test failure says what the tool said. */
export async function runTool(name: string, args: string[], options: { cwd?: string } = {}): Promise<string> {
  try {
    const { stdout } = await exec(name, args, { cwd: options.cwd, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    throw new Error(`${name} ${args.join(' ')} failed: ${stderr?.trim() || message}`, { cause: error });
  }
}
