import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const NOT_INSTALLED = 'nats-server is not installed: apt-get install nats-server';

/** A real nats-server with JetStream on a free loopback port and a temporary store directory. */
export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Kills the server (SIGKILL: as a crash) and starts it again on the same port and store. */
  restart(): Promise<void>;
  /** Kills the server (SIGKILL) and leaves it down, until restart(): an outage. */
  crash(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL) and deletes its store. Idempotent. */
  stop(): Promise<void>;
}

export function findNatsServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  return undefined;
}

export async function startNatsServer({ readyTimeoutMs = 10_000 }: { readyTimeoutMs?: number } = {}): Promise<NatsServerHandle> {
  const binary = findNatsServer();
  if (!binary) throw new Error(NOT_INSTALLED);
  const storeDir = await mkdtemp(join(tmpdir(), 'strata-nats-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let stopped = false;

  const launch = async () => {
    const spawned = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = spawned;
    let stderr = '';
    spawned.stderr?.setEncoding('utf8');
    spawned.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-8000);
    });
    const exited = new Promise<never>((_, reject) => {
      spawned.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'ENOENT' ? new Error(NOT_INSTALLED) : error),
      );
      spawned.once('exit', (code, signal) => reject(new Error(`nats-server exited (code ${code}, signal ${signal}) before it was ready:\n${stderr}`)));
    });
    exited.catch(() => {});
    try {
      await Promise.race([waitForPort(port, readyTimeoutMs, () => /Server is ready/.test(stderr)), exited]);
    } catch (error) {
      await kill(spawned);
      throw error;
    }
  };

  try {
    await launch();
  } catch (error) {
    await rm(storeDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async restart() {
      if (stopped) throw new Error('nats-server was stopped');
      if (child) await kill(child, 'SIGKILL');
      await launch();
    },
    async crash() {
      if (stopped) throw new Error('nats-server was stopped');
      if (child) await kill(child, 'SIGKILL');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child) await kill(child);
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** Resolves once the port accepts a connection and the server said it is ready; bounded. */
async function waitForPort(port: number, timeoutMs: number, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (ready() && (await canConnect(port))) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not accept connections on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** SIGTERM (or the signal given), then SIGKILL after a grace period; resolves once the process is gone. */
function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}
