/**
 * Workload 5 (layers): a real Strata node as a child process — built from the repository, started on
 * 127.0.0.1 with a fixed admin token, polled until /healthz answers, stopped with SIGTERM — and the
 * helpers that read its memory from /proc/<pid>/status.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** Where `npm run build` puts the node's main (as bin/strata.js looks for it). */
const NODE_ENTRY = 'dist/apps/strata/apps/strata/src/main.js';
const KiB = 1024;

/** Newest mtime of the sources the build reads (apps/, libs/, the build's config files). */
function newestSource(root: string): number {
  let newest = 0;
  const walk = (dir: string, depth: number) => {
    if (depth > 12) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, depth + 1);
      else if (/\.(ts|json)$/.test(entry.name) && !/\.spec\.ts$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const d of ['apps', 'libs']) walk(join(root, d), 0);
  for (const f of ['package.json', 'tsconfig.json', 'nest-cli.json']) newest = Math.max(newest, statSync(join(root, f)).mtimeMs);
  return newest;
}

/**
 * `npm run build` at the repository root when dist/ is missing or older than a source file (others
 * may be editing apps/ and libs/); with `require`, never builds and fails when it would have to.
 * Returns what it did, for the results file.
 */
export function ensureBuilt(root: string, log: (s: string) => void, mode: 'auto' | 'always' | 'never'): string {
  const entry = join(root, NODE_ENTRY);
  const stale = !existsSync(entry) || statSync(entry).mtimeMs < newestSource(root);
  if (mode === 'never' || (mode === 'auto' && !stale)) {
    if (!existsSync(entry)) throw new Error(`Strata is not built (${NODE_ENTRY} is missing): run npm run build at the repository root, or drop --no-build`);
    const state = stale ? 'dist/ older than the sources (--no-build: used as is)' : 'dist/ up to date';
    log(`  build: ${state}`);
    return state;
  }
  log(`  build: npm run build (${stale ? 'dist/ missing or older than the sources' : '--build'}) ...`);
  const t0 = performance.now();
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8', timeout: 10 * 60_000 });
  if (r.status !== 0) {
    throw new Error(`npm run build failed (${r.status ?? r.signal}): ${`${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-15).join('\n')}`);
  }
  const state = `built with npm run build in ${((performance.now() - t0) / 1000).toFixed(0)} s`;
  log(`  build: ${state}`);
  return state;
}

/** A TCP port nothing listens on right now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export interface StrataNode {
  pid: number;
  dataDir: string;
  url: string;
  token: string;
  logFile: string;
  /** GET/POST with the admin token; throws on a non-2xx answer, with the node's problem JSON. */
  request(path: string, init?: RequestInit & { duplex?: 'half' }): Promise<Response>;
  /** SIGTERM, then waits for the exit: 'exit <code>' or 'signal <name>'. */
  stop(): Promise<string>;
}

/** More for `serve` (e.g. `--nats <urls> --node-id n1`, as the cluster workload starts its nodes), and a fixed admin token. */
export interface NodeStartOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  token?: string;
}

/** Starts `node bin/strata.js serve` on 127.0.0.1 with its data in `dataDir`; resolves once /healthz answers. */
export async function startNode(root: string, dataDir: string, logFile: string, options: NodeStartOptions = {}): Promise<StrataNode> {
  const port = await freePort();
  const token = options.token ?? `bench-admin-token-${process.pid}-${Date.now()}`;
  const url = `http://127.0.0.1:${port}`;
  const out = createWriteStream(logFile);
  const child: ChildProcess = spawn(
    process.execPath,
    ['bin/strata.js', 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port), '--admin-token', token, '--log-format', 'json', ...(options.args ?? [])],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } },
  );
  // both into one file: neither pipe ends it; it ends once the child's stdio has closed
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  const logClosed = new Promise<void>((resolve) => child.on('close', () => out.end(resolve)));
  let exitCode: string | undefined;
  const exited = new Promise<string>((resolve) =>
    child.on('exit', (code, signal) => {
      exitCode = code === null ? `signal ${signal}` : `exit ${code}`;
      resolve(exitCode);
    }),
  );
  const tail = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-10).join('\n') : '');
  const request = async (path: string, init: RequestInit & { duplex?: 'half' } = {}) => {
    const response = await fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
    if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${(await response.text()).slice(0, 500)}`);
    return response;
  };
  const stop = async () => {
    if (exitCode !== undefined) return exitCode;
    child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((r) => setTimeout(r, 15_000, 'timeout').unref());
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`the node (pid ${child.pid}) did not exit within 15 s of SIGTERM: killed`);
    }
    await Promise.race([logClosed, new Promise((r) => setTimeout(r, 5000).unref())]);
    const graceful = readFileSync(logFile, 'utf8').includes('stopping node');
    return `${exitCode ?? 'unknown'}${graceful ? ', after logging "stopping node"' : ', without logging "stopping node"'}`;
  };
  // poll /healthz: every 100 ms, at most 30 s
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`the node exited (${exitCode}) before answering /healthz:\n${tail()}`);
    try {
      const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop().catch(() => undefined);
      throw new Error(`the node did not answer /healthz within 30 s:\n${tail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid!, dataDir, url, token, logFile, request, stop };
}

/** VmRSS and VmHWM (peak RSS) of a process, MiB. */
export function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: (kb('VmRSS') * KiB) / 2 ** 20, hwmMiB: (kb('VmHWM') * KiB) / 2 ** 20 };
}

/** Resets VmHWM to the current RSS (writing "5" to clear_refs; needs root or the same user). */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Stops the node (SIGTERM) if it was started and says how it ended; never throws (the workload's finally). */
export async function stopLogged(node: StrataNode | undefined, log: (s: string) => void): Promise<string | undefined> {
  if (!node) return undefined;
  try {
    const exit = await node.stop();
    log(`  node stopped after SIGTERM (${exit})`);
    return exit;
  } catch (error) {
    log(`  stopping the node: ${String(error)}`);
    return undefined;
  }
}
