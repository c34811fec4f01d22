import { execFile } from 'node:child_process';
import { RuntimeError } from './runtime-error.js';

export interface RuncState {
  id: string;
  pid: number;
  status: 'created' | 'running' | 'pausing' | 'paused' | 'stopped';
}

export interface RuncResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Every runc command is bounded: a wedged runc must not hang the node. */
const DEFAULT_TIMEOUT_MS = 30_000;

/** runc's command line, with its own state under `root` (one per node, apart from any other runc user). */
export class RuncCli {
  constructor(
    readonly binary: string,
    readonly root: string,
  ) {}

  run(args: string[], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RuncResult> {
    return new Promise((resolve, reject) => {
      execFile(this.binary, ['--root', this.root, ...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        const code = (error as { code?: unknown } | null)?.code;
        if (error && typeof code !== 'number') {
          const why = (error as { killed?: boolean }).killed ? `did not finish within ${timeoutMs} ms` : error.message;
          return reject(new RuntimeError('RUNC_FAILED', `runc ${args[0]} ${why}`));
        }
        resolve({ code: typeof code === 'number' ? code : 0, stdout, stderr });
      });
    });
  }

  /** Runs a command that must succeed; its failure carries runc's own words. */
  async must(args: string[]): Promise<string> {
    const result = await this.run(args);
    if (result.code !== 0) throw new RuntimeError('RUNC_FAILED', `runc ${args[0]}: ${runcMessage(result.stderr)}`);
    return result.stdout;
  }

  /** runc's view of a container, or null when runc does not know it. */
  async state(id: string): Promise<RuncState | null> {
    const result = await this.run(['state', id]);
    if (result.code !== 0) {
      if (/does not exist|not found/i.test(result.stderr)) return null;
      throw new RuntimeError('RUNC_FAILED', `runc state: ${runcMessage(result.stderr)}`);
    }
    return JSON.parse(result.stdout) as RuncState;
  }

  /** Forgets a container, killing it if it runs; a container runc never knew is fine. */
  async deleteForce(id: string): Promise<void> {
    await this.must(['delete', '--force', id]);
  }
}

/** runc's logrus line `time=… level=error msg="…"` → the message; anything else as it is. */
export function runcMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  const last = lines.at(-1) ?? 'failed without saying why';
  const quoted = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  return quoted ? quoted[1]!.replace(/\\(.)/g, '$1') : last;
}
