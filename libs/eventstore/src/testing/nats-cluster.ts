import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findNatsServer } from './nats-server.js';

const NOT_INSTALLED = 'nats-server is not installed: apt-get install nats-server';
const HOST = '127.0.0.1';

/** One server of a cluster: its own ports, store directory and config file. */
export interface NatsClusterServer {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly clusterPort: number;
  /** The monitoring port (`/jsz`, `/healthz`, `/routez`). */
  readonly httpPort: number;
  readonly storeDir: string;
  readonly configFile: string;
  /** Whether the process is up (not crashed or stopped). */
  readonly running: boolean;
  /** The process id while it runs. */
  readonly pid: number | undefined;
  /** Kills the server (SIGKILL) and leaves it down, until restart(): an outage of one member. */
  crash(): Promise<void>;
  /** Kills it (SIGKILL) if it runs, starts it again on the same ports and store, and waits until it has caught up. */
  restart(): Promise<void>;
  /** Stops it (SIGTERM, then SIGKILL); its store stays until the cluster stops. */
  stop(): Promise<void>;
}

export interface NatsClusterHandle {
  /** The client URLs of all servers, comma-separated (what STRATA_NATS_URL takes). */
  readonly urls: string;
  readonly servers: readonly NatsClusterServer[];
  /** Where the config files and stores are. */
  readonly dir: string;
  /** Resolves once every running server sees the same elected JetStream meta leader and is healthy; bounded. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** The name of the current JetStream meta leader (asked of a running server). */
  metaLeader(): Promise<string | undefined>;
  /** Stops every server and deletes the temporary directory (kept when `dir` was given). Idempotent. */
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  /** Number of servers (default 3). */
  size?: number;
  /** Cluster name (default `strata`). */
  name?: string;
  /** A directory to keep the configs and stores in (not deleted on stop); default: a new temp directory, deleted on stop. */
  dir?: string;
  /** Server names are `<prefix>-<n>`, n from 1 (default `nats`). */
  serverNamePrefix?: string;
  /** Write each server's log to `<dir>/<name>/server.log` as well (default: only kept in memory for errors). */
  logToFile?: boolean;
  /** Bound of the whole start, ms (default 30 s). */
  readyTimeoutMs?: number;
  /**
   * Servers do not tell clients of the others (`no_advertise`): a client given one server's URL stays
   * on it, so killing that server cuts the client off instead of sending it to another.
   */
  noAdvertise?: boolean;
}

export interface NatsServerConfigInput {
  serverName: string;
  host: string;
  port: number;
  httpPort?: number;
  storeDir: string;
  clusterName: string;
  clusterHost: string;
  clusterPort: number;
  /** host:port of every cluster listener, this server's own included (nats-server skips itself). */
  routes: string[];
  noAdvertise?: boolean;
}

/**
 * A nats-server config (the format of nats-server 2.9 and later) for one member of a JetStream
 * cluster: a server_name (JetStream clustering needs one, unique), the store, and routes to the others.
 */
export function natsServerConfig(input: NatsServerConfigInput): string {
  return [
    `server_name: ${JSON.stringify(input.serverName)}`,
    `listen: ${JSON.stringify(`${input.host}:${input.port}`)}`,
    ...(input.httpPort ? [`http: ${JSON.stringify(`${input.host}:${input.httpPort}`)}`] : []),
    'jetstream {',
    `  store_dir: ${JSON.stringify(input.storeDir)}`,
    '}',
    'cluster {',
    `  name: ${JSON.stringify(input.clusterName)}`,
    `  listen: ${JSON.stringify(`${input.clusterHost}:${input.clusterPort}`)}`,
    ...(input.noAdvertise ? ['  no_advertise: true'] : []),
    '  routes: [',
    ...input.routes.map((route) => `    ${JSON.stringify(`nats-route://${route}`)}`),
    '  ]',
    '}',
    '',
  ].join('\n');
}

/**
 * Real nats-servers with JetStream, clustered with routes on loopback: free client, cluster and
 * monitoring ports, each server its own store directory and config file. Resolves once the JetStream
 * meta leader is elected and seen by every server; on any failure everything started is stopped.
 */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const binary = findNatsServer();
  if (!binary) throw new Error(NOT_INSTALLED);
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1) throw new Error('a cluster needs at least one server');
  // A port taken between our probe and nats-server's bind makes a server fail: try again with new ports.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary, size, options);
    } catch (error) {
      lastError = error;
      if (!/address already in use/i.test(String((error as Error).message))) throw error;
    }
  }
  throw lastError;
}

async function startOnce(binary: string, size: number, options: NatsClusterOptions): Promise<NatsClusterHandle> {
  const ownDir = options.dir === undefined;
  const dir = ownDir ? await mkdtemp(join(tmpdir(), 'strata-nats-cluster-')) : resolve(options.dir!);
  const clusterName = options.name ?? 'strata';
  const prefix = options.serverNamePrefix ?? 'nats';
  const ports = await freePorts(size * 3);
  const members: Member[] = [];
  let stopped = false;
  const routes = Array.from({ length: size }, (_, i) => `${HOST}:${ports[size + i]}`);
  try {
    for (let i = 0; i < size; i++) {
      const name = `${prefix}-${i + 1}`;
      const serverDir = join(dir, name);
      await mkdir(serverDir, { recursive: true });
      const configFile = join(serverDir, 'nats-server.conf');
      const member = new Member(binary, {
        name,
        port: ports[i]!,
        clusterPort: ports[size + i]!,
        httpPort: ports[2 * size + i]!,
        storeDir: join(serverDir, 'store'),
        configFile,
        logFile: options.logToFile ? join(serverDir, 'server.log') : undefined,
      });
      await writeFile(
        configFile,
        natsServerConfig({
          noAdvertise: options.noAdvertise,
          serverName: name,
          host: HOST,
          port: member.port,
          httpPort: member.httpPort,
          storeDir: member.storeDir,
          clusterName,
          clusterHost: HOST,
          clusterPort: member.clusterPort,
          routes,
        }),
      );
      members.push(member);
    }
    await Promise.all(members.map((m) => m.launch()));
    await waitClusterReady(members, options.readyTimeoutMs ?? 30_000);
  } catch (error) {
    await Promise.all(members.map((m) => m.stop()));
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  for (const m of members) m.afterRestart = () => waitClusterReady(members, options.readyTimeoutMs ?? 30_000);
  return {
    urls: members.map((m) => m.url).join(','),
    servers: members,
    dir,
    waitReady: (timeoutMs = options.readyTimeoutMs ?? 30_000) => waitClusterReady(members, timeoutMs),
    async metaLeader() {
      for (const m of members) {
        if (!m.running) continue;
        const leader = (await m.jsz().catch(() => undefined))?.meta_cluster?.leader;
        if (leader) return leader;
      }
      return undefined;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await Promise.all(members.map((m) => m.stop()));
      } finally {
        if (ownDir) await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

interface MemberSpec {
  name: string;
  port: number;
  clusterPort: number;
  httpPort: number;
  storeDir: string;
  configFile: string;
  logFile?: string;
}

/** Children still running when this process exits are killed with it (a failed test leaves no server behind). */
const live = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

class Member implements NatsClusterServer {
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly httpPort: number;
  readonly storeDir: string;
  readonly configFile: string;
  readonly url: string;
  afterRestart: () => Promise<void> = async () => {};
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private stderr = '';
  private stopped = false;

  constructor(
    private readonly binary: string,
    private readonly spec: MemberSpec,
  ) {
    this.name = spec.name;
    this.port = spec.port;
    this.clusterPort = spec.clusterPort;
    this.httpPort = spec.httpPort;
    this.storeDir = spec.storeDir;
    this.configFile = spec.configFile;
    this.url = `nats://${HOST}:${spec.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** Starts the process and waits until it accepts clients (not until the cluster is formed). */
  async launch(timeoutMs = 10_000): Promise<void> {
    this.stderr = '';
    const child = spawn(this.binary, ['-c', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    track(child);
    if (this.spec.logFile && !this.log) this.log = createWriteStream(this.spec.logFile, { flags: 'a' });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-8000);
      this.log?.write(chunk);
    });
    const exited = new Promise<never>((_, reject) => {
      child.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? new Error(NOT_INSTALLED) : error));
      child.once('exit', (code, signal) => reject(new Error(`nats-server ${this.name} exited (code ${code}, signal ${signal}) before it was ready:\n${this.stderr}`)));
    });
    exited.catch(() => {});
    try {
      await Promise.race([
        until(`nats-server ${this.name} to accept clients on port ${this.port}`, timeoutMs, async () => (await canConnect(this.port)) && (await canConnect(this.httpPort))),
        exited,
      ]);
    } catch (error) {
      await kill(child, 'SIGKILL');
      throw new Error(`${(error as Error).message}\n${this.stderr}`, { cause: error });
    }
  }

  /** The monitoring endpoint's JetStream report. */
  async jsz(): Promise<{ meta_cluster?: { leader?: string; cluster_size?: number } }> {
    return (await fetchJson(`http://${HOST}:${this.httpPort}/jsz`)) as { meta_cluster?: { leader?: string } };
  }

  /** `/healthz`: ok once the server's JetStream (meta and its streams) has caught up. */
  async healthy(): Promise<boolean> {
    const body = (await fetchJson(`http://${HOST}:${this.httpPort}/healthz`).catch(() => undefined)) as { status?: string } | undefined;
    return body?.status === 'ok';
  }

  lastLog(): string {
    return this.stderr;
  }

  async crash(): Promise<void> {
    if (this.stopped) throw new Error(`nats-server ${this.name} was stopped`);
    if (this.child) await kill(this.child, 'SIGKILL');
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new Error(`nats-server ${this.name} was stopped`);
    if (this.child) await kill(this.child, 'SIGKILL');
    await this.launch();
    await this.afterRestart();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.child) await kill(this.child);
    const log = this.log;
    this.log = undefined;
    if (log) await new Promise<void>((done) => log.end(done));
  }
}

/** Every running member healthy and agreeing on one elected meta leader; bounded. */
async function waitClusterReady(members: Member[], timeoutMs: number): Promise<void> {
  let last = '';
  try {
    await until('the JetStream meta leader to be elected', timeoutMs, async () => {
      const running = members.filter((m) => m.running);
      if (running.length === 0) throw new Error('no nats-server of the cluster is running');
      const leaders = await Promise.all(running.map(async (m) => (await m.jsz().catch(() => undefined))?.meta_cluster?.leader ?? ''));
      last = running.map((m, i) => `${m.name}: leader=${leaders[i] || '-'}`).join(', ');
      if (leaders.some((l) => !l) || new Set(leaders).size !== 1) return false;
      return (await Promise.all(running.map((m) => m.healthy()))).every(Boolean);
    });
  } catch (error) {
    const logs = members.map((m) => `--- ${m.name}${m.running ? '' : ' (down)'}\n${m.lastLog().slice(-1500)}`).join('\n');
    throw new Error(`${(error as Error).message} (${last})\n${logs}`, { cause: error });
  }
}

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function fetchJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return response.json();
}

/** n distinct free loopback ports: all held open at once, so none is handed out twice. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolvePort, reject) => {
          server.once('error', reject);
          server.listen(0, HOST, () => {
            const address = server.address();
            if (typeof address === 'object' && address) resolvePort(address.port);
            else reject(new Error('no free port'));
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = createConnection({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });
}

/** SIGTERM (or the signal given), then SIGKILL after a grace period; resolves once the process is gone. */
function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill(signal);
  });
}
