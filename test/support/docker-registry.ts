import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BINARY = '/usr/bin/docker-registry';

export interface DockerRegistry {
  /** `127.0.0.1:<port>`: the registry part of a reference. */
  host: string;
  url: string;
  storage: string;
  /** Basic credentials when started with htpasswd auth. */
  credentials: { username: string; password: string } | null;
  /** fetch against the registry, with the Basic credentials when there are any. */
  call(method: string, path: string, headers?: Record<string, string>): Promise<Response>;
  /** Everything the registry wrote to stdout/stderr, for a failing test's message. */
  output(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * An htpasswd line with a bcrypt hash (the only scheme distribution accepts), made by the system's
 * crypt(3) through perl (Debian's libxcrypt does bcrypt; perl-base is always installed).
 */
function htpasswdLine(username: string, password: string): string {
  const salt = `$2b$05$${randomBytes(16).toString('base64').replace(/[^A-Za-z0-9]/g, '.').slice(0, 22)}`;
  const hash = execFileSync('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, salt]).toString('utf8');
  if (!hash.startsWith('$2b$')) throw new Error(`this system's crypt(3) cannot make bcrypt hashes (got ${hash.slice(0, 10)}…)`);
  return `${username}:${hash}\n`;
}

/**
 * Debian's `docker-registry` (the CNCF distribution registry, v2.8) on a free loopback port, with its
 * storage in a temp dir, optionally behind htpasswd (Basic) auth. Stopped (and its storage removed)
 * by `stop()`.
 */
export async function startDockerRegistry(options: { htpasswd?: { username: string; password: string } } = {}): Promise<DockerRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-docker-registry-'));
  const port = await freePort();
  const storage = join(dir, 'storage');
  const auth = options.htpasswd
    ? (() => {
        writeFileSync(join(dir, 'htpasswd'), htpasswdLine(options.htpasswd.username, options.htpasswd.password), { mode: 0o600 });
        return `auth:\n  htpasswd:\n    realm: strata-test\n    path: ${join(dir, 'htpasswd')}\n`;
      })()
    : '';
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
  secret: ${randomBytes(16).toString('hex')}
${auth}`,
  );
  let output = '';
  const child: ChildProcess = spawn(BINARY, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (error) =>
      reject(new Error((error as NodeJS.ErrnoException).code === 'ENOENT' ? `${BINARY} is not installed: run scripts/ensure-system-deps.sh (npm test does) or apt-get install docker-registry` : String(error))),
    ),
  );
  const url = `http://127.0.0.1:${port}`;
  const credentials = options.htpasswd ?? null;
  const call = (method: string, path: string, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {
      method,
      headers: { ...(credentials ? { authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` } : {}), ...headers },
    });
  const ready = (async () => {
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${output}`);
      try {
        const res = await fetch(`${url}/v2/`);
        await res.body?.cancel();
        if (res.status === 200 || res.status === 401) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`docker-registry did not start on ${url}: ${output}`);
  })();
  try {
    await Promise.race([ready, spawnError]);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    storage,
    credentials,
    call,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
