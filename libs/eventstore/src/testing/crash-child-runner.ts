import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildAck } from './append-child.js';

const CHILD_SCRIPT = fileURLToPath(new URL('./append-child.ts', import.meta.url));
/** The repository root: tsx finds tsconfig.json (and so the @strata/* paths) in the working directory. */
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface KilledWriter {
  /** Every append the child acknowledged on stdout before it died. */
  acks: ChildAck[];
  stderr: string;
}

/**
 * Starts append-child.ts in a real process on the storage `childConfig` names, lets it acknowledge at
 * least `killAfterAcks` appends, then (after 0..killJitterMs ms) kills it with SIGKILL (no exit handlers, no flush, no close).
 * Rejects, rather than returning few or no acks, if the child cannot start, fails, ends by itself or
 * is too slow: the crash test must not pass without a crash.
 */
export function runWriterUntilKilled(
  childConfig: unknown,
  { killAfterAcks, workers, timeoutMs, killJitterMs = 30 }: { killAfterAcks: number; workers: number; timeoutMs: number; killJitterMs?: number },
): Promise<KilledWriter> {
  return new Promise((resolve, reject) => {
    // `node --import tsx`, not the tsx CLI: the CLI runs the script in a grandchild that SIGKILL would miss.
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, JSON.stringify(childConfig), String(workers)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: ChildAck[] = [];
    let stderr = '';
    let pending = '';
    let ready = false;
    let killed = false;
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${message} (ready: ${ready}, acks: ${acks.length})\n--- child stderr ---\n${stderr}`));
    };
    const timer = setTimeout(() => fail(`the writer did not reach ${killAfterAcks} acks within ${timeoutMs} ms`), timeoutMs);

    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      // Only whole lines count: a line cut by the kill has no newline and stays in `pending`.
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line === 'ready') ready = true;
        else {
          try {
            acks.push(JSON.parse(line) as ChildAck);
          } catch {
            return fail(`the writer printed something that is not an ack: ${line}`);
          }
        }
      }
      if (!killed && acks.length >= killAfterAcks) {
        killed = true;
        // Acks come in bursts, one per committed batch: a random delay lands the kill anywhere in the
        // next batch (inserting, fsyncing, acknowledging) instead of always just after a commit.
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * killJitterMs));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', (error) => fail(`the writer could not be started: ${error.message}`));
    // 'close', not 'exit': stdout is drained by then, so no ack printed before the kill is missed.
    child.on('close', (code, signal) => {
      if (!killed) return fail(`the writer ended by itself (exit code ${code}, signal ${signal})`);
      if (signal !== 'SIGKILL') return fail(`the writer ended with exit code ${code}, signal ${signal}, not by SIGKILL`);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ acks, stderr });
    });
  });
}
