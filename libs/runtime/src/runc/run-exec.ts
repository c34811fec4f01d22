import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { RuntimeError } from './runtime-error.js';

export type ExecIo = { stdin?: Buffer | string; timeoutMs?: number; signal?: AbortSignal; maxOutputBytes?: number };

/** Runs runc exec and collects its output, bounded in size and time; a timeout or abort kills the exec'd process by its pid. */
export function runExec(binary: string, args: string[], io: ExecIo, pidFile: string, closing: AbortSignal): Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }> {
  const max = io.maxOutputBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: [io.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const collect = (into: Buffer[]) => {
      let size = 0;
      return (chunk: Buffer) => {
        if (size >= max) return; // the rest is dropped: exec output is for a terminal, not a pipe of gigabytes
        into.push(chunk.subarray(0, max - size));
        size += chunk.length;
      };
    };
    child.stdout!.on('data', collect(out));
    child.stderr!.on('data', collect(err));
    if (io.stdin !== undefined) child.stdin?.end(io.stdin);
    let gaveUp: string | undefined;
    const giveUp = (why: string) => {
      gaveUp = why;
      readFile(pidFile, 'utf8')
        .then((pid) => process.kill(Number(pid), 'SIGKILL'))
        .catch(() => child.kill('SIGKILL'));
    };
    const signal = AbortSignal.any([closing, ...(io.signal ? [io.signal] : []), ...(io.timeoutMs !== undefined ? [AbortSignal.timeout(io.timeoutMs)] : [])]);
    const onAbort = () => giveUp(io.signal?.aborted ? 'it was aborted' : closing.aborted ? 'the runtime is closing' : `it ran over ${io.timeoutMs} ms`);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => reject(new RuntimeError('EXEC_FAILED', `cannot run runc exec: ${error.message}`)));
    child.on('close', (code, killedBy) => {
      signal.removeEventListener('abort', onAbort);
      if (gaveUp) return reject(new RuntimeError('ABORTED', `exec killed: ${gaveUp}`));
      resolve({ exitCode: code ?? 128 + (killedBy === 'SIGKILL' ? 9 : 15), stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
  });
}
