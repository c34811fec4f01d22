import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyLayer } from './support/images.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/strata.js');

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/**
 * The real binary, as a user runs it: `strata serve` as a child process with its own data directory
 * (no fixed token: it must make one and the CLI must find it), then the CLI commands against it.
 * Needs `npm run build` first (npm test does it).
 */
describe('the strata binary', () => {
  let dataDir: string;
  let node: ChildProcess;
  let env: NodeJS.ProcessEnv;
  let log = '';
  const strata = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 30_000 });

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/apps/strata')) || !existsSync(join(ROOT, 'dist/apps/cli'))) {
      throw new Error('strata is not built: run `npm run build` before this test (npm test does)');
    }
    dataDir = mkdtempSync(join(tmpdir(), 'strata-bin-'));
    const port = await freePort();
    env = { ...process.env, STRATA_URL: `http://127.0.0.1:${port}`, STRATA_DATA_DIR: dataDir, STRATA_TOKEN: '', STRATA_ADMIN_TOKEN: '' };
    delete env.STRATA_TOKEN;
    delete env.STRATA_ADMIN_TOKEN;
    node = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--data-dir', dataDir, '--log-format', 'json'], { env });
    node.stdout!.on('data', (d) => (log += d));
    node.stderr!.on('data', (d) => (log += d));
    for (let i = 0; i < 200; i++) {
      const up = await fetch(`${env.STRATA_URL}/healthz`).then((r) => r.ok, () => false);
      if (up) return;
      if (node.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`strata serve did not come up:\n${log}`);
  });
  afterAll(async () => {
    if (node && node.exitCode === null) {
      const exited = new Promise((r) => node.once('exit', r));
      node.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('made an admin token readable only by its owner, and said where it is', () => {
    const file = join(dataDir, 'admin.token');
    expect(readFileSync(file, 'utf8').trim()).toMatch(/^strata_/);
    expect(spawnSync('stat', ['-c', '%a', file], { encoding: 'utf8' }).stdout.trim()).toBe('600');
    expect(log).toContain('admin.token');
  });

  it('imports images, tags, moves, shows history, and exits 0 only on success', async () => {
    expect(strata('repo', 'create', 'demo/app', '--public').status).toBe(0);
    // Two real images from layer tars on disk, imported untagged (like `docker import`).
    const digests: string[] = [];
    for (const build of [1, 2]) {
      const file = join(dataDir, `build-${build}.tar`);
      writeFileSync(file, await tinyLayer(`build ${build}`));
      const imported = strata('import', file, '--json');
      expect(imported.status, imported.stderr).toBe(0);
      digests.push(JSON.parse(imported.stdout).image.manifestDigest);
    }
    const [D1, D2] = digests as [string, string];
    expect(strata('tag', D1, 'demo/app:latest').status).toBe(0);
    expect(strata('tag', D2, 'demo/app:latest').status).toBe(0);
    expect(strata('tag', 'demo/app:latest', 'demo/app:stable').status).toBe(0);

    const history = strata('repo', 'history', 'demo/app:latest', '--json');
    expect(history.status).toBe(0);
    const moves = JSON.parse(history.stdout);
    const items = Array.isArray(moves) ? moves : moves.items;
    expect(items.map((m: any) => [m.from, m.to])).toEqual([[null, D1], [D1, D2]]);

    const images = strata('images');
    expect(images.status).toBe(0);
    expect(images.stdout).toMatch(/demo\/app\s+latest/);
    const cat = strata('image', 'cat', 'demo/app:stable', '/seed.txt');
    expect(cat.stdout).toBe('build 2\n');

    const human = strata('repo', 'ls');
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/demo\/app\s+public\s+2/);

    const bad = strata('repo', 'create', 'Bad/Name');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('INVALID_REPOSITORY_NAME');
    const missing = strata('untag', 'demo/app:nope');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('TAG_NOT_FOUND');
    expect(strata('repo', 'frobnicate').status).toBe(2);
  });

  it('lists the audit log as JSON lines and replays with the same checksum', () => {
    const events = strata('events', '--since', '0', '--json');
    expect(events.status).toBe(0);
    const types = events.stdout.trim().split('\n').map((l) => JSON.parse(l).type);
    expect(types).toEqual(['RepositoryCreated', 'ImageCreated', 'ImageCreated', 'ImageTagged', 'ImageTagged', 'ImageTagged']);

    const replay = strata('replay', '--json');
    expect(replay.status).toBe(0);
    const result = JSON.parse(replay.stdout);
    expect(result.events).toBe(6);
    expect(result.checksumAfter).toBe(result.checksumBefore);
  });

  it('reports its status, with the package version', () => {
    const status = strata('status', '--json');
    expect(status.status).toBe(0);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(JSON.parse(status.stdout)).toMatchObject({ version: pkg.version, backend: 'sqlite', head: 6, principal: 'admin' });
    expect(JSON.parse(status.stdout).snapshotter.name).toMatch(/^(overlay|native)$/);
  });

  it('refuses a wrong token and an unreachable node with a clear message', () => {
    const wrong = spawnSync(process.execPath, [BIN, 'repo', 'ls', '--token', 'nope'], { env, encoding: 'utf8' });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('UNAUTHORIZED');
    const away = spawnSync(process.execPath, [BIN, 'status', '--url', 'http://127.0.0.1:1'], { env, encoding: 'utf8' });
    expect(away.status).toBe(1);
    expect(away.stderr).toMatch(/not reachable|strata serve|npm start/);
  });
});
