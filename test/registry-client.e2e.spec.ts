import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventsReply, ImagesReply, ImageView, PullImageReply, PushImageReply } from '@strata/api';
import { hostPlatform, MediaTypes } from '@strata/layers';
import { run } from '../apps/cli/src/cli.js';
import { captureIo } from '../apps/cli/src/testing/fake-node.js';
import { startDockerRegistry, type DockerRegistry } from './support/docker-registry.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';
import { tool } from './support/trees.js';

const USER = 'ci';
const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;

function skopeo(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { maxBuffer: 64 * 1024 * 1024, timeout: 50_000 }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error('skopeo is not installed: run scripts/ensure-system-deps.sh'));
      else if (error) reject(new Error(`skopeo ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

/** A layer tar with one file of `size` random (incompressible) bytes: big enough to drop mid-download. */
async function bigLayer(size: number): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'data.bin', mode: 0o644, mtime: new Date(0) }, randomBytes(size));
  pack.entry({ name: 'hello.txt', mode: 0o644, mtime: new Date(0) }, 'hello from strata\n');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A man in the middle between Strata and docker-registry, for what a real registry never does on
 * purpose: `drop` cuts the connection of the first (non-Range) GET of one blob after `after` bytes, as
 * a flaky network does; `corrupt` flips one byte of that blob, simulating a malicious or broken
 * registry that serves bytes which are not the digest it was asked for.
 */
async function startTamperingProxy(target: string, mode: 'drop' | 'corrupt', digest: () => string, after: number) {
  const requests: Array<{ method: string; url: string; range: string | undefined }> = [];
  let dropped = false;
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method!, url: req.url!, range: req.headers.range });
    const upstream = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (up: IncomingMessage) => {
      res.writeHead(up.statusCode!, up.headers);
      const tampered = req.method === 'GET' && req.url!.includes(`/blobs/${digest()}`) && up.statusCode === 200;
      if (!tampered || (mode === 'drop' && (dropped || req.headers.range))) return void up.pipe(res);
      let offset = 0;
      up.on('data', (chunk: Buffer) => {
        if (mode === 'corrupt') {
          if (offset <= after && after < offset + chunk.length) chunk[after - offset] ^= 0xff;
          offset += chunk.length;
          res.write(chunk);
          return;
        }
        if (offset + chunk.length >= after) {
          dropped = true;
          res.write(chunk.subarray(0, after - offset), () => res.socket?.destroy());
          up.destroy();
          return;
        }
        offset += chunk.length;
        res.write(chunk);
      });
      up.on('end', () => res.end());
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('registry client: strata pull/push against docker-registry and another node', () => {
  let registry: DockerRegistry;
  let a: TestNode; // the source node: images are imported here and pushed out
  let b: TestNode; // a fresh node: images are pulled into it
  let work: string;
  let config: string; // the CLI's $STRATA_CONFIG (auth.json)
  let manifestDigest: string; // demo/app:1 on node A
  let layerDigest: string;

  const strata = async (node: TestNode, args: string[], stdin?: string, tty = false) => {
    const { io, out, err } = captureIo(
      { STRATA_URL: node.url, STRATA_TOKEN: ADMIN_TOKEN, STRATA_CONFIG: config, HOME: work },
      { stderrTTY: tty, ...(stdin === undefined ? {} : { stdin: Object.assign(Readable.from([Buffer.from(stdin)]), { isTTY: false }) as any }) },
    );
    const code = await run(args, io);
    return { code, out: out(), err: err() };
  };
  const json = async <T>(node: TestNode, args: string[]) => {
    const result = await strata(node, [...args, '--json']);
    if (result.code !== 0) throw new Error(`strata ${args.join(' ')} failed (${result.code}): ${result.err}`);
    return JSON.parse(result.out) as T;
  };
  const events = async (node: TestNode) => (await node.json<EventsReply>('GET', '/events?format=json&limit=10000')).body.items;
  const creds = () => `--creds=${USER}:${PASSWORD}`;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'strata-registry-client-'));
    config = join(work, 'config');
    registry = await startDockerRegistry({ htpasswd: { username: USER, password: PASSWORD } });
    [a, b] = await Promise.all([startTestNode(), startTestNode()]);
    const response = await fetch(`${a.url}/images/import?tag=demo/app:1&source=big.tar`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-tar' },
      body: await bigLayer(3 * 1024 * 1024),
    });
    expect(response.status).toBe(201);
    const image = ((await response.json()) as { image: ImageView }).image;
    manifestDigest = image.manifestDigest;
    layerDigest = image.layers[0]!.digest;
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await registry?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('login checks the credentials through the node and keeps them in a 0600 file; wrong ones are refused', async () => {
    const wrong = await strata(a, ['login', registry.host, '-u', USER, '--password-stdin'], 'not-the-password\n');
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('REGISTRY_UNAUTHORIZED');
    expect(() => statSync(join(config, 'auth.json'))).toThrow();

    const push = await strata(a, ['push', 'demo/app:1', `${registry.host}/demo/app:1`]);
    expect(push.code).toBe(1);
    expect(push.err).toMatch(/authentication required.*strata login/);

    const ok = await strata(a, ['login', registry.host, '-u', USER, '--password-stdin'], `${PASSWORD}\n`);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('Login Succeeded');
    const file = join(config, 'auth.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(config).mode & 0o777).toBe(0o700);
    const auths = JSON.parse(readFileSync(file, 'utf8')).auths;
    expect(Buffer.from(auths[registry.host].auth, 'base64').toString()).toBe(`${USER}:${PASSWORD}`);
  });

  it('push: chunked upload into docker-registry; skopeo inspect and tags/list agree; a second repository mounts; a repeat skips', async () => {
    const pushed = await json<PushImageReply>(a, ['push', 'demo/app:1', `${registry.host}/demo/app:1`, '--chunk-size', String(1024 * 1024)]);
    expect(pushed).toMatchObject({ remote: `${registry.host}/demo/app:1`, manifestDigest, blobs: { uploaded: 2, existing: 0, mounted: 0 } });
    expect(pushed.blobs.bytes).toBeGreaterThan(3 * 1024 * 1024);

    const inspected = JSON.parse(await skopeo(['inspect', '--tls-verify=false', creds(), `docker://${registry.host}/demo/app:1`]));
    expect(inspected.Digest).toBe(manifestDigest);
    expect(inspected.Layers).toEqual([layerDigest]);
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', creds(), `docker://${registry.host}/demo/app:1`]);
    expect(raw).toBe((await a.call('GET', `/content/${manifestDigest}`).then((r) => r.text())));
    const tags = await (await registry.call('GET', '/v2/demo/app/tags/list')).json();
    expect(tags).toEqual({ name: 'demo/app', tags: ['1'] });

    const mounted = await json<PushImageReply>(a, ['push', 'demo/app:1', `${registry.host}/other/app:1`]);
    expect(mounted.blobs).toEqual({ uploaded: 0, existing: 0, mounted: 2, bytes: 0 });
    const again = await json<PushImageReply>(a, ['push', 'demo/app:1', `${registry.host}/demo/app:2`]);
    expect(again.blobs).toEqual({ uploaded: 0, existing: 2, mounted: 0, bytes: 0 });
    expect(((await (await registry.call('GET', '/v2/demo/app/tags/list')).json()) as { tags: string[] }).tags.sort()).toEqual(['1', '2']);
  });

  it('pull into a fresh node: the same manifest digest, ImageCreated {origin: pull} and the tag; no secret anywhere in its log', async () => {
    const pulled = await json<PullImageReply>(b, ['pull', `${registry.host}/demo/app:1`, 'mirror/app:1']);
    expect(pulled).toMatchObject({ manifestDigest, tag: 'mirror/app:1', indexDigest: null, blobs: { downloaded: 2, existing: 0, resumes: 0 } });
    expect(pulled.image).toMatchObject({ origin: 'pull', source: `${registry.host}/demo/app:1`, tags: ['mirror/app:1'] });
    const content = await b.call('GET', `/images/${encodeURIComponent('mirror/app:1')}/content?path=/hello.txt`);
    expect(await content.text()).toBe('hello from strata\n');
    const log = await events(b);
    expect(log.filter((e) => e.type === 'ImageCreated').map((e) => (e.data as { origin: string }).origin)).toEqual(['pull']);
    const everything = JSON.stringify(log) + readFileSync(join(b.dataDir, 'strata.db')).toString('latin1');
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));

    // Again: every blob is here already, nothing is downloaded and the log does not grow.
    const before = log.length;
    const again = await json<PullImageReply>(b, ['pull', `${registry.host}/demo/app:1`, 'mirror/app:1']);
    expect(again.blobs).toMatchObject({ downloaded: 0, existing: 2 });
    expect((await events(b)).length).toBe(before);

    // The human output: progress on stderr (plain lines: no terminal here), the result on stdout.
    const human = await strata(b, ['pull', `${registry.host}/demo/app:2`]);
    expect(human.code, human.err).toBe(0);
    expect(human.out).toContain(`Pulled ${registry.host}/demo/app:2 as demo/app:2`);
    expect(human.err).toContain('already here');
    // On a terminal: a bar per blob.
    const bars = await strata(b, ['pull', `${registry.host}/other/app:1`], undefined, true);
    expect(bars.code, bars.err).toBe(0);
    expect(bars.err).toMatch(/\[[\u2591\u2588]+\] 100%/);
  });

  it('pulls what skopeo put there (umoci, gzip layers), and picks the platform from an index', async () => {
    const layout = join(work, 'layout');
    tool('umoci', ['init', '--layout', layout]);
    tool('umoci', ['new', '--image', `${layout}:base`]);
    tool('umoci', ['unpack', '--rootless', '--image', `${layout}:base`, join(work, 'bundle')]);
    await mkdir(join(work, 'bundle/rootfs/etc'), { recursive: true });
    await writeFile(join(work, 'bundle/rootfs/etc/motd'), 'from umoci via skopeo\n');
    tool('umoci', ['repack', '--image', `${layout}:base`, join(work, 'bundle')]);
    await skopeo(['copy', '--dest-tls-verify=false', `--dest-creds=${USER}:${PASSWORD}`, `oci:${layout}:base`, `docker://${registry.host}/umoci/base:1`]);
    const umociDigest = JSON.parse(await skopeo(['inspect', '--tls-verify=false', creds(), `docker://${registry.host}/umoci/base:1`])).Digest as string;

    const pulled = await json<PullImageReply>(b, ['pull', `${registry.host}/umoci/base:1`]);
    expect(pulled.manifestDigest).toBe(umociDigest);
    expect(pulled.image.layers.every((l) => l.mediaType === MediaTypes.ociLayerGzip)).toBe(true);
    expect(await (await b.call('GET', `/images/${encodeURIComponent('umoci/base:1')}/content?path=/etc/motd`)).text()).toBe('from umoci via skopeo\n');

    // An index in the same repository: the host's platform → the umoci image; linux/s390x → demo/app's.
    await json(a, ['push', 'demo/app:1', `${registry.host}/umoci/base:other`]);
    const manifestSize = async (digest: string) => Number((await registry.call('HEAD', `/v2/umoci/base/manifests/${digest}`, { accept: MediaTypes.ociManifest })).headers.get('content-length'));
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [
          { mediaType: MediaTypes.ociManifest, digest: manifestDigest, size: await manifestSize(manifestDigest), platform: { os: 'linux', architecture: 's390x' } },
          { mediaType: MediaTypes.ociManifest, digest: umociDigest, size: await manifestSize(umociDigest), platform: hostPlatform() },
        ],
      }),
    );
    const put = await fetch(`${registry.url}/v2/umoci/base/manifests/multi`, {
      method: 'PUT',
      body: index,
      headers: { 'content-type': MediaTypes.ociIndex, authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
    });
    expect(put.status, await put.text()).toBe(201);
    const host = await json<PullImageReply>(b, ['pull', `${registry.host}/umoci/base:multi`, 'multi:host']);
    expect(host).toMatchObject({ manifestDigest: umociDigest, indexDigest: put.headers.get('docker-content-digest') });
    const s390x = await json<PullImageReply>(b, ['pull', `${registry.host}/umoci/base:multi`, 'multi:s390x', '--platform', 'linux/s390x']);
    expect(s390x).toMatchObject({ manifestDigest, platform: 'linux/s390x' });
    const none = await strata(b, ['pull', `${registry.host}/umoci/base:multi`, '--platform', 'windows/arm64']);
    expect(none.code).toBe(1);
    expect(none.err).toContain('PLATFORM_NOT_FOUND');
    const missing = await strata(b, ['pull', `${registry.host}/umoci/base:nope`]);
    expect(missing.err).toContain('MANIFEST_UNKNOWN');
  });

  it("pulls from another Strata node's /v2/ (token flow with its API token), and is refused there without credentials", async () => {
    const nodeA = a.url.replace(/^http:\/\//, '');
    const refused = await strata(b, ['pull', `${nodeA}/demo/app:1`, 'fromnode/app:1']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('REGISTRY_UNAUTHORIZED');

    const login = await strata(b, ['login', nodeA, '-u', 'admin', '--password-stdin'], ADMIN_TOKEN);
    expect(login.code, login.err).toBe(0);
    const pulled = await json<PullImageReply>(b, ['pull', `${nodeA}/demo/app:1`, 'fromnode/app:1']);
    expect(pulled).toMatchObject({ manifestDigest, tag: 'fromnode/app:1', blobs: { downloaded: 0, existing: 2 } });

    // And the other way round: B pushes the umoci image into A's registry, which records the push.
    const pushed = await json<PushImageReply>(b, ['push', 'umoci/base:1', `${nodeA}/pushed/umoci:1`, '--chunk-size', '65536']);
    expect(pushed.blobs.uploaded).toBe(2);
    const onA = (await a.json<ImageView>('GET', `/images/${encodeURIComponent('pushed/umoci:1')}`)).body;
    expect(onA).toMatchObject({ manifestDigest: pushed.manifestDigest, origin: 'push' });

    const logout = await strata(b, ['logout', nodeA]);
    expect(logout.out).toContain('Removing login credentials');
    expect(JSON.parse(readFileSync(join(config, 'auth.json'), 'utf8')).auths[nodeA]).toBeUndefined();
  });

  it('resumes a blob download whose connection dropped, with a Range request', async () => {
    const proxy = await startTamperingProxy(registry.url, 'drop', () => layerDigest, 1024 * 1024 + 123);
    const c = await startTestNode();
    try {
      await strata(c, ['login', proxy.host, '-u', USER, '--password-stdin'], PASSWORD);
      const pulled = await json<PullImageReply>(c, ['pull', `${proxy.host}/demo/app:1`, 'resumed/app:1']);
      expect(pulled.manifestDigest).toBe(manifestDigest);
      expect(pulled.blobs.resumes).toBe(1);
      const gets = proxy.requests.filter((r) => r.method === 'GET' && r.url.includes(layerDigest));
      // Resumed from where the bytes stopped arriving (at most where the proxy cut: a reset may lose a little in flight).
      expect(gets).toHaveLength(2);
      expect(gets[0]!.range).toBeUndefined();
      const from = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? '')?.[1]);
      expect(from).toBeGreaterThan(0);
      expect(from).toBeLessThanOrEqual(1024 * 1024 + 123);
      expect(await (await c.call('GET', `/images/${encodeURIComponent('resumed/app:1')}/content?path=/hello.txt`)).text()).toBe('hello from strata\n');
    } finally {
      await c.stop();
      await proxy.close();
    }
  });

  it('refuses a blob that is not what its digest says (a malicious registry, simulated), with nothing half-written', async () => {
    const proxy = await startTamperingProxy(registry.url, 'corrupt', () => layerDigest, 2 * 1024 * 1024);
    const d = await startTestNode();
    try {
      await strata(d, ['login', proxy.host, '-u', USER, '--password-stdin'], PASSWORD);
      const result = await strata(d, ['pull', `${proxy.host}/demo/app:1`, 'evil/app:1']);
      expect(result.code).toBe(1);
      expect(result.err).toContain('DIGEST_MISMATCH');
      expect(result.err).toContain(layerDigest);
      expect((await d.json<ImagesReply>('GET', '/images')).body.items).toEqual([]);
      expect((await d.json('GET', `/repositories/${encodeURIComponent('evil/app')}`)).status).toBe(404);
      expect((await events(d)).filter((e) => e.type.startsWith('Image'))).toEqual([]);
      expect(readdirSync(join(d.dataDir, 'blobs', 'sha256'))).not.toContain(layerDigest.slice(7));
      expect(readdirSync(join(d.dataDir, 'ingest'))).toEqual([]);
    } finally {
      await d.stop();
      await proxy.close();
    }
  });
});
