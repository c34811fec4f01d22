import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ADMIN_TOKEN } from './test-node.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/strata.js');

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

export interface ChildNode {
  url: string;
  process: ChildProcess;
  log(): string;
  json<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** SIGKILL: the node dies without a word, as in a power cut of the process. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The built node as its own process (`strata serve`), for tests that kill it: the data directory
 * survives, and the next ChildNode on it is the node restarting. Needs `npm run build` (npm test does).
 */
export async function startChildNode(dataDir: string, env: Record<string, string> = {}): Promise<ChildNode> {
  if (!existsSync(join(ROOT, 'dist/apps/strata'))) throw new Error('strata is not built: run `npm run build` first (npm test does)');
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--data-dir', dataDir, '--admin-token', ADMIN_TOKEN, '--node-id', env.STRATA_NODE_ID ?? 'node-crash', '--log-format', 'json'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
    if (child.exitCode !== null || i > 300) throw new Error(`strata serve did not come up:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    process: child,
    log: () => log,
    async json(method, path, body) {
      const r = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    },
    async crash() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Unmounts whatever is still mounted under `dir` (a crashed node leaves its rootfs mounts behind). */
export function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => !!point && point.startsWith(dir))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) {
    try {
      execFileSync('umount', ['-l', point]);
    } catch {
      // already gone
    }
  }
}

/** Kills what a node left running under `dataDir` (its containers' processes, by runc) and unmounts its rootfs. */
export function cleanUpAfterCrash(dataDir: string): void {
  const root = join(dataDir, 'runtime', '.runc');
  let ids: string[];
  try {
    ids = execFileSync('runc', ['--root', root, 'list', '-q'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    ids = []; // no runc state: nothing ran there
  }
  for (const id of ids) {
    try {
      execFileSync('runc', ['--root', root, 'delete', '--force', id], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // already gone
    }
  }
  unmountUnder(dataDir);
}
