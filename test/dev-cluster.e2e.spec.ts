import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const ROOT = join(import.meta.dirname, '..');

interface Ready {
  ready: true;
  dir: string;
  nats: { urls: string; servers: Array<{ name: string; url: string; pid: number }> };
  nodes: Array<{ nodeId: string; url: string; token: string; dataDir: string; pid: number }>;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * `npm run cluster` as a person runs it (the script, as a child process in its own process group):
 * three nats-servers clustered by routes and three built Strata nodes on them, replicas 3.
 * Needs `npm run build` first (npm test does).
 */
describe('npm run cluster: three nats-servers and three nodes on loopback', () => {
  let dir: string;
  let child: ChildProcess;
  let output = '';
  let ready: Ready;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/apps/strata'))) throw new Error('strata is not built: run `npm run build` before this test (npm test does)');
    dir = mkdtempSync(join(tmpdir(), 'strata-dev-cluster-'));
    // detached: its own process group, so the cleanup can reach every process it started.
    child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev-cluster.ts', '--dir', dir, '--json'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    ready = await until('the dev cluster to be ready', 120_000, async () => {
      if (child.exitCode !== null) throw new Error(`dev cluster exited (${child.exitCode}):\n${output}`);
      const line = output.split('\n').find((l) => l.startsWith('{"ready":true'));
      return line ? (JSON.parse(line) as Ready) : undefined;
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${output}`);
    });
  }, 150_000);

  afterAll(async () => {
    // Whatever happened above: nothing of the process group may survive the test.
    if (child?.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('runs three nodes, each healthy on JetStream; a write on one is read on the other two', async () => {
    expect(ready.nats.urls.split(',')).toHaveLength(3);
    expect(ready.nodes.map((n) => n.nodeId)).toEqual(['node-1', 'node-2', 'node-3']);
    expect(new Set(ready.nodes.map((n) => n.dataDir)).size).toBe(3);
    for (const n of ready.nodes) {
      expect(n.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(n.token).toBeTruthy();
      expect(n.dataDir.startsWith(dir)).toBe(true);
      const health = (await (await fetch(`${n.url}/healthz`, { signal: AbortSignal.timeout(5000) })).json()) as any;
      expect(health).toMatchObject({ status: 'ok', nodeId: n.nodeId, eventLog: { backend: 'jetstream', connected: true } });
    }

    const [first, ...others] = ready.nodes;
    const created = await fetch(`${first!.url}/repositories`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first!.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'cluster/app', visibility: 'public' }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(created.status).toBe(201);
    const { position } = (await created.json()) as { position: number };
    expect(position).toBeGreaterThan(0);
    for (const n of others) {
      const read = await fetch(`${n.url}/repositories/cluster%2Fapp?minPosition=${position}`, {
        headers: { authorization: `Bearer ${n.token}` },
        signal: AbortSignal.timeout(15_000),
      });
      expect(read.status).toBe(200);
      expect(await read.json()).toMatchObject({ name: 'cluster/app', visibility: 'public' });
    }
  });

  it('stops everything on SIGTERM and leaves no process behind', async () => {
    const pids = [...ready.nats.servers.map((s) => s.pid), ...ready.nodes.map((n) => n.pid)];
    expect(pids.every(alive)).toBe(true);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 45_000))]);
    expect(code).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    // No member of its process group either (ESRCH once the group is empty): a helper a node had
    // started may take a moment to go after its parent, so bounded.
    await until('its process group to be empty', 10_000, async () => !alive(-child.pid!)).catch(() => undefined);
    const group = spawnSync('ps', ['-o', 'pid,stat,args', '-g', String(child.pid)], { encoding: 'utf8' }).stdout;
    expect(alive(-child.pid!), `left in its process group:\n${group}`).toBe(false);
  }, 60_000);
});

/** docker-compose.yml parsed (the `yaml` package, a dev dependency). */
function composeAsJson(): any {
  return parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }); // `<<: *anchor` as compose reads it
}

/** The few settings of a nats-server config this topology depends on (the format deploy/nats/ uses). */
function natsConf(file: string) {
  const text = readFileSync(file, 'utf8');
  const value = (re: RegExp) => re.exec(text)?.[1];
  const cluster = /cluster \{([\s\S]*?)\n\}/.exec(text)?.[1] ?? '';
  return {
    serverName: value(/^server_name: "([^"]+)"/m),
    listen: value(/^listen: "([^"]+)"/m),
    http: value(/^http: "([^"]+)"/m),
    storeDir: value(/jetstream \{\s*store_dir: "([^"]+)"/),
    clusterName: /name: "([^"]+)"/.exec(cluster)?.[1],
    clusterListen: /listen: "([^"]+)"/.exec(cluster)?.[1],
    routes: [...cluster.matchAll(/"nats-route:\/\/([^"]+)"/g)].map((m) => m[1]!),
  };
}

const compose = composeAsJson();
const hasNatsServer = spawnSync('nats-server', ['--version'], { encoding: 'utf8' }).status === 0;

/**
 * No Docker engine runs on these machines (and the docker client here has no compose plugin): the file
 * is checked for consistency here — services, ports, the NATS routes and the node settings agree —
 * and validated by `docker compose config`, or Debian's docker-compose 1.29 (which npm test installs).
 */
describe('docker-compose.yml: three nats-servers as a JetStream cluster and three Strata nodes', () => {
  const port = (mapping: string) => {
    const [host, published, target] = mapping.split(':');
    return { host, published: Number(published), target: Number(target) };
  };

  it('every nats-server routes to all three, with its own name, store and ports; every node names all three', () => {
    const services = compose.services as Record<string, any>;
    const natsNames = ['nats-1', 'nats-2', 'nats-3'];
    const nodeNames = ['strata-1', 'strata-2', 'strata-3'];
    expect(Object.keys(services).sort()).toEqual([...natsNames, ...nodeNames]);

    // Every published port on the host's loopback, none twice.
    const published = Object.values(services).flatMap((s) => (s.ports as string[]).map(port));
    expect(published.every((p) => p.host === '127.0.0.1')).toBe(true);
    expect(new Set(published.map((p) => p.published)).size).toBe(published.length);

    const confs = natsNames.map((name) => {
      const mount = (services[name].volumes as string[]).find((v) => v.endsWith(':/etc/nats/nats-server.conf:ro'));
      expect(mount, `${name} mounts its config`).toBeDefined();
      const file = join(ROOT, mount!.split(':')[0]!);
      expect(existsSync(file)).toBe(true);
      if (hasNatsServer) expect(spawnSync('nats-server', ['-t', '-c', file], { encoding: 'utf8' }).status, `nats-server -t -c ${file}`).toBe(0);
      const conf = natsConf(file);
      expect(conf.serverName).toBe(name);
      expect((services[name].volumes as string[]).some((v) => v.endsWith(`:${conf.storeDir}`))).toBe(true); // the store is a volume
      expect(services[name].command).toEqual(['-c', '/etc/nats/nats-server.conf']);
      // What the service publishes is what the server listens on.
      const targets = (services[name].ports as string[]).map((p) => port(p).target);
      expect(targets).toContain(Number(conf.listen!.split(':')[1]));
      expect(targets).toContain(Number(conf.http!.split(':')[1]));
      return conf;
    });
    expect(new Set(confs.map((c) => c.clusterName)).size).toBe(1);
    // Routes: every server lists every cluster listener (its own too: nats-server skips it), by service name.
    const listeners = natsNames.map((name, i) => `${name}:${confs[i]!.clusterListen!.split(':')[1]}`).sort();
    for (const conf of confs) expect([...conf.routes].sort()).toEqual(listeners);

    const clientUrls = natsNames.map((name, i) => `nats://${name}:${confs[i]!.listen!.split(':')[1]}`);
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const nodePort = Number(/STRATA_PORT=(\d+)/.exec(dockerfile)?.[1]);
    const nodeIds = nodeNames.map((name) => {
      const env = services[name].environment as Record<string, string>;
      expect(env.STRATA_NATS_URL!.split(',').sort()).toEqual(clientUrls.sort());
      expect(Number(env.STRATA_NATS_REPLICAS)).toBe(natsNames.length);
      expect(env.STRATA_ADVERTISE_URL).toBe(`http://${name}:${nodePort}`);
      expect((services[name].ports as string[]).map((p) => port(p).target)).toEqual([nodePort]);
      expect((services[name].volumes as string[]).some((v) => v.endsWith(':/data'))).toBe(true);
      for (const dependency of Object.keys(services[name].depends_on ?? {})) expect(Object.keys(services)).toContain(dependency);
      return env.STRATA_NODE_ID;
    });
    expect(new Set(nodeIds).size).toBe(3);
    // Every named volume is declared, and no two services share one.
    const named = Object.values(services).flatMap((s) => (s.volumes as string[]).map((v) => v.split(':')[0]!).filter((v) => !v.startsWith('.')));
    expect(new Set(named).size).toBe(named.length);
    expect(named.sort()).toEqual(Object.keys(compose.volumes).sort());
  });

  it('has a Dockerfile for the node: Debian slim Node 20, runc, busybox-static and attr, built with npm ci and npm run build', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim$/m);
    const install = /apt-get install[^\n]*/.exec(dockerfile)?.[0] ?? '';
    for (const pkg of ['runc', 'busybox-static', 'attr']) expect(install.split(/\s+/)).toContain(pkg);
    expect(dockerfile).toMatch(/^RUN npm ci$/m);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "bin\/strata\.js", "serve", "--host", "0\.0\.0\.0"\]$/m);
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', '.git']) expect(ignored).toContain(entry);
  });

  const composePlugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
  const composeV1 = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
  it('is valid for docker compose (config), without an engine', () => {
    // npm test installs Debian's docker-compose when missing (scripts/ensure-system-deps.sh).
    if (!composePlugin && !composeV1) throw new Error('neither `docker compose` nor `docker-compose` is installed: apt-get install docker-compose');
    if (composePlugin) {
      const r = spawnSync('docker', ['compose', '-f', join(ROOT, 'docker-compose.yml'), 'config', '-q'], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(0);
      return;
    }
    // Debian's docker-compose 1.29 knows the file format as version 2.4 (no top-level `name`): the same file otherwise.
    const dir = mkdtempSync(join(tmpdir(), 'strata-compose-'));
    try {
      const v24 = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8').replace(/^name: .*\n/m, '');
      writeFileSync(join(dir, 'docker-compose.yml'), `version: "2.4"\n${v24}`);
      const r = spawnSync('docker-compose', ['--project-directory', ROOT, '-f', join(dir, 'docker-compose.yml'), 'config', '-q'], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
