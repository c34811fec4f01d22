import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventsReply, ImageView } from '@strata/api';
import { hostPlatform } from '@strata/layers';
import { makeBusyboxRootfs } from '../libs/layers/src/testing/busybox-rootfs.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';
import { tool, treeOf } from './support/trees.js';

/** skopeo must run asynchronously: the node answering it runs in this very process. */
function skopeo(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { maxBuffer: 64 * 1024 * 1024, timeout: 50_000 }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error('skopeo is not installed: run scripts/ensure-system-deps.sh or apt-get install skopeo'));
      else if (error) reject(new Error(`skopeo ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const INDEX = 'application/vnd.oci.image.index.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}
const readIndex = (layout: string) => JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
const blobPath = (layout: string, digest: string) => join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
const refIn = (layout: string, ref: string) => readIndex(layout).manifests.find((m) => m.annotations?.[REF_NAME] === ref)!;
/** Adds (or replaces) a ref name in an OCI layout's index.json pointing at `descriptor`. */
function addRef(layout: string, ref: string, descriptor: Descriptor): void {
  const index = readIndex(layout);
  index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== ref);
  index.manifests.push({ mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, annotations: { [REF_NAME]: ref } });
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
}

/** Polls until `check` is true, failing after `ms`: every wait in this file is bounded. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Issue 6's multi-platform proof: an OCI image index over two umoci-built platform images goes into a
 * node with `skopeo copy --all`, comes back byte for byte (same index digest, same manifests), and a
 * platform of what came back unpacks to the root filesystem it was built from.
 */
describe('registry: multi-platform image index (skopeo --all, umoci)', () => {
  let t: TestNode;
  let work: string;
  let layout: string;
  let registry: string;
  let indexBytes: Buffer;
  let indexDigest: string;
  const platforms = { amd64: null as Descriptor | null, arm64: null as Descriptor | null };
  const head = async () => (await t.json<EventsReply>('GET', '/events?format=json&limit=10000')).body.items.length;

  beforeAll(async () => {
    t = await startTestNode();
    registry = t.url.replace(/^http:\/\//, '');
    work = mkdtempSync(join(tmpdir(), 'strata-registry-multi-'));
    layout = join(work, 'layout');
    tool('umoci', ['init', '--layout', layout]);
    for (const arch of ['amd64', 'arm64'] as const) {
      tool('umoci', ['new', '--image', `${layout}:${arch}`]);
      tool('umoci', ['config', '--image', `${layout}:${arch}`, '--os', 'linux', '--architecture', arch]);
      const bundle = join(work, `b-${arch}`);
      tool('umoci', ['unpack', '--image', `${layout}:${arch}`, bundle]);
      await makeBusyboxRootfs(join(bundle, 'rootfs'));
      await mkdir(join(bundle, 'rootfs/etc'), { recursive: true });
      await writeFile(join(bundle, 'rootfs/etc/platform'), `linux/${arch}\n`);
      tool('umoci', ['repack', '--image', `${layout}:${arch}`, bundle]);
      const descriptor = refIn(layout, arch);
      platforms[arch] = { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, platform: { os: 'linux', architecture: arch } };
    }
    indexBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [platforms.amd64, platforms.arm64] }));
    indexDigest = sha256(indexBytes);
    writeFileSync(blobPath(layout, indexDigest), indexBytes);
    addRef(layout, 'multi', { mediaType: INDEX, digest: indexDigest, size: indexBytes.length });
  });
  afterAll(async () => {
    await t?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('skopeo copy --all pushes the index: each platform an image, the tag on the index, the admin as actor', async () => {
    const before = await head();
    await skopeo(['copy', '--all', '--dest-tls-verify=false', '--dest-registry-token', ADMIN_TOKEN, `oci:${layout}:multi`, `docker://${registry}/multi/app:1`]);
    const events = (await t.json<EventsReply>('GET', '/events?format=json&limit=10000')).body.items.slice(before);
    const created = events.filter((e) => e.type === 'ImageCreated').map((e) => e.data as { manifestDigest: string; manifestMediaType: string; origin: string; parent: string | null });
    expect(created.map((c) => c.manifestDigest).sort()).toEqual([platforms.amd64!.digest, platforms.arm64!.digest, indexDigest].sort());
    expect(created.every((c) => c.origin === 'push')).toBe(true);
    const indexRecord = created.find((c) => c.manifestDigest === indexDigest)!;
    expect(indexRecord.manifestMediaType).toBe(INDEX);
    // The index's record describes the platform this node runs (or the first one): a container made from the tag works.
    const host = hostPlatform().architecture;
    const described = host === 'arm64' ? platforms.arm64! : platforms.amd64!;
    expect(indexRecord.parent).toBe(described.digest);
    const tagged = events.filter((e) => e.type === 'ImageTagged');
    expect(tagged.map((e) => e.data)).toEqual([expect.objectContaining({ name: 'multi/app', tag: '1', digest: indexDigest })]);
    expect(events.every((e) => e.actor === 'admin')).toBe(true);

    const image = (await t.json<ImageView>('GET', `/images/${encodeURIComponent('multi/app:1')}`)).body;
    expect(image.manifestDigest).toBe(indexDigest);
    expect(image.manifestMediaType).toBe(INDEX);
    const platformImage = (await t.json<ImageView>('GET', `/images/${encodeURIComponent(described.digest)}`)).body;
    expect(image.layers).toEqual(platformImage.layers);
  });

  it('skopeo inspect --raw answers the index; copy --all back out is identical; a platform unpacks to its root filesystem', async () => {
    const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', '--registry-token', ADMIN_TOKEN, `docker://${registry}/multi/app:1`]);
    expect(sha256(raw.replace(/\n$/, ''))).toBe(indexDigest);
    expect(JSON.parse(raw)).toEqual(JSON.parse(indexBytes.toString()));
    const answer = await fetch(`${t.url}/v2/multi/app/manifests/1`, { method: 'HEAD', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(answer.headers.get('docker-content-digest')).toBe(indexDigest);
    expect(answer.headers.get('content-type')).toBe(INDEX);

    const out = join(work, 'pulled');
    await skopeo(['copy', '--all', '--src-tls-verify=false', '--src-registry-token', ADMIN_TOKEN, `docker://${registry}/multi/app:1`, `oci:${out}:x`]);
    const entry = refIn(out, 'x');
    expect(entry.digest).toBe(indexDigest);
    const pulledIndex = readFileSync(blobPath(out, indexDigest));
    expect(pulledIndex).toEqual(indexBytes);
    for (const platform of [platforms.amd64!, platforms.arm64!]) {
      expect(readFileSync(blobPath(out, platform.digest))).toEqual(readFileSync(blobPath(layout, platform.digest)));
    }
    for (const arch of ['amd64', 'arm64'] as const) {
      addRef(out, arch, platforms[arch]!);
      tool('umoci', ['unpack', '--image', `${out}:${arch}`, join(work, `u-${arch}`)]);
      expect(treeOf(join(work, `u-${arch}/rootfs`))).toEqual(treeOf(join(work, `b-${arch}/rootfs`)));
    }
  });

  it('refuses an index naming a manifest the repository does not hold (MANIFEST_BLOB_UNKNOWN), recording nothing', async () => {
    const missing = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256('no such manifest'), size: 16, platform: { os: 'linux', architecture: 's390x' } };
    const body = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [platforms.amd64, missing] });
    const before = await head();
    const answer = await fetch(`${t.url}/v2/multi/app/manifests/2`, { method: 'PUT', body, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': INDEX } });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as any).errors[0]).toMatchObject({ code: 'MANIFEST_BLOB_UNKNOWN', detail: { digest: missing.digest } });
    const nested = await fetch(`${t.url}/v2/multi/app/manifests/3`, {
      method: 'PUT',
      body: JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: INDEX, digest: indexDigest, size: indexBytes.length }] }),
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': INDEX },
    });
    expect(nested.status).toBe(415);
    expect(((await nested.json()) as any).errors[0].code).toBe('UNSUPPORTED');
    expect(await head()).toBe(before);
    const tags = await fetch(`${t.url}/v2/multi/app/tags/list`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(((await tags.json()) as { tags: string[] }).tags).toEqual(['1']);
  });
});

/**
 * The spec's bad inputs, each answered with its error code and none leaving a blob, a tag or an upload
 * half-visible: a wrong digest, a truncated upload, chunks out of order, a manifest over the 4 MiB limit,
 * invalid names, and uploads never finished (expired after STRATA_UPLOAD_TTL_MS, here 1.5 s).
 */
describe('registry: bad input (spec error codes, nothing half-visible)', () => {
  const TTL_MS = 1500;
  let t: TestNode;

  const v2 = (method: string, path: string, body?: Buffer | string | Readable, headers: Record<string, string> = {}) =>
    fetch(`${t.url}${path}`, {
      method,
      body: body instanceof Readable ? (Readable.toWeb(body) as ReadableStream) : body,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers },
      ...(body instanceof Readable ? { duplex: 'half' } : {}),
    } as RequestInit);
  const errorOf = async (response: Response) => ((await response.json()) as { errors: Array<{ code: string; detail?: any }> }).errors[0]!;
  const head = async () => (await t.json<EventsReply>('GET', '/events?format=json&limit=10000')).body.items.length;
  const dir = (name: string) => (existsSync(join(t.dataDir, name)) ? readdirSync(join(t.dataDir, name)) : []);
  const blobStored = (digest: string) => existsSync(join(t.dataDir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  /** A request Node sends as written: no URL normalisation (`..` stays), no body checks. */
  const raw = (method: string, path: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const { port } = new URL(t.url);
      const req = httpRequest({ host: '127.0.0.1', port: Number(port), path, method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-length': '0' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
  /** Sends headers announcing `declared` bytes, writes `sent` of them, then cuts the connection. */
  const cut = (method: string, path: string, declared: number, sent: Buffer, headers: Record<string, string> = {}) =>
    new Promise<void>((resolve, reject) => {
      const { port } = new URL(t.url);
      const socket = connect(Number(port), '127.0.0.1', () => {
        const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${ADMIN_TOKEN}`, 'Content-Type: application/octet-stream', `Content-Length: ${declared}`];
        for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
        socket.write(`${lines.join('\r\n')}\r\n\r\n`);
        socket.write(sent, () => setTimeout(() => socket.destroy(), 100));
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });

  beforeAll(async () => {
    t = await startTestNode({ env: { STRATA_UPLOAD_TTL_MS: String(TTL_MS) } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('a wrong digest on a monolithic upload or at completion is DIGEST_INVALID; no blob under either digest', async () => {
    const blob = Buffer.from('the real bytes');
    const wrong = sha256('other bytes');
    const monolithic = await v2('POST', `/v2/bad/digest/blobs/uploads/?digest=${wrong}`, blob, { 'content-type': 'application/octet-stream' });
    expect(monolithic.status).toBe(400);
    expect((await errorOf(monolithic)).code).toBe('DIGEST_INVALID');
    const notSha = await v2('POST', '/v2/bad/digest/blobs/uploads/?digest=md5:abc', blob, { 'content-type': 'application/octet-stream' });
    expect((await errorOf(notSha)).code).toBe('DIGEST_INVALID');
    const location = (await v2('POST', '/v2/bad/digest/blobs/uploads/')).headers.get('location')!;
    const done = await v2('PUT', `${location}?digest=${wrong}`, blob, { 'content-type': 'application/octet-stream' });
    expect(done.status).toBe(400);
    expect((await errorOf(done)).code).toBe('DIGEST_INVALID');
    for (const digest of [sha256(blob), wrong]) {
      expect(blobStored(digest)).toBe(false);
      expect((await v2('HEAD', `/v2/bad/digest/blobs/${digest}`)).status).toBe(404);
    }
    expect(dir('ingest')).toEqual([]);
    expect(dir('uploads')).toEqual([]);
  });

  it('a truncated monolithic upload (Content-Length larger than the body, connection cut) stores nothing', async () => {
    const blob = Buffer.alloc(64 * 1024, 'x');
    const digest = sha256(blob);
    await cut('POST', `/v2/bad/truncated/blobs/uploads/?digest=${digest}`, blob.length, blob.subarray(0, 1000));
    await eventually(() => dir('ingest').length === 0, 5000, 'the ingest file to go');
    expect(blobStored(digest)).toBe(false);
    expect((await v2('HEAD', `/v2/bad/truncated/blobs/${digest}`)).status).toBe(404);
    expect(dir('uploads')).toEqual([]);

    // A cut completion (PUT with the last bytes): the session is kept for a retry or removed, never committed.
    const location = (await v2('POST', '/v2/bad/truncated/blobs/uploads/')).headers.get('location')!;
    expect((await v2('PATCH', location, blob.subarray(0, 1000), { 'content-type': 'application/octet-stream' })).status).toBe(202);
    await cut('PUT', `${location}?digest=${digest}`, blob.length - 1000, blob.subarray(1000, 2000));
    await eventually(() => dir('ingest').length === 0, 5000, 'the ingest file to go');
    expect(blobStored(digest)).toBe(false);
    const status = await v2('GET', location);
    if (status.status === 204) {
      // What the upload holds is exactly what arrived, in order: the client resumes from the Range.
      const end = Number(status.headers.get('range')!.split('-')[1]);
      expect(end + 1).toBeGreaterThanOrEqual(1000);
      expect(end + 1).toBeLessThanOrEqual(2000);
      const rest = await v2('PUT', `${location}?digest=${digest}`, blob.subarray(end + 1), { 'content-type': 'application/octet-stream', 'content-range': `${end + 1}-${blob.length - 1}` });
      expect(rest.status).toBe(201);
      expect(blobStored(digest)).toBe(true);
    } else {
      expect((await errorOf(status)).code).toBe('BLOB_UPLOAD_UNKNOWN');
    }
  });

  it('a chunk that does not start at the current offset is 416 with the Range the upload holds; nothing moves', async () => {
    const blob = Buffer.from('0123456789abcdefghijklmnopqrstuv');
    const start = await v2('POST', '/v2/bad/chunks/blobs/uploads/');
    const location = start.headers.get('location')!;
    const early = await v2('PATCH', location, blob.subarray(5, 10), { 'content-range': '5-9', 'content-type': 'application/octet-stream' });
    expect(early.status).toBe(416);
    expect(early.headers.get('range')).toBe('0-0');
    expect(early.headers.get('location')).toBe(location);
    expect((await errorOf(early)).code).toBe('RANGE_INVALID');
    expect((await v2('PATCH', location, blob.subarray(0, 10), { 'content-range': '0-9', 'content-type': 'application/octet-stream' })).status).toBe(202);
    for (const [range, from, to] of [['20-29', 20, 30], ['0-9', 0, 10], ['5-14', 5, 15]] as const) {
      const answer = await v2('PATCH', location, blob.subarray(from, to), { 'content-range': range, 'content-type': 'application/octet-stream' });
      expect(answer.status).toBe(416);
      expect(answer.headers.get('range')).toBe('0-9');
      expect(answer.headers.get('docker-upload-uuid')).toBe(location.split('/').pop());
    }
    const malformed = await v2('PATCH', location, blob.subarray(10, 20), { 'content-range': 'bytes=10-19', 'content-type': 'application/octet-stream' });
    expect(malformed.status).toBe(400);
    expect((await errorOf(malformed)).code).toBe('BLOB_UPLOAD_INVALID');
    // An out-of-order last chunk on completion is refused the same way, and the upload stays as it was.
    const last = await v2('PUT', `${location}?digest=${sha256(blob)}`, blob.subarray(25), { 'content-range': `25-${blob.length - 1}`, 'content-type': 'application/octet-stream' });
    expect(last.status).toBe(416);
    expect(last.headers.get('range')).toBe('0-9');
    expect(blobStored(sha256(blob))).toBe(false);
    const status = await v2('GET', location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-9');
    const done = await v2('PUT', `${location}?digest=${sha256(blob)}`, blob.subarray(10), { 'content-range': `10-${blob.length - 1}`, 'content-type': 'application/octet-stream' });
    expect(done.status).toBe(201);
    expect(Buffer.from(await (await v2('GET', `/v2/bad/chunks/blobs/${sha256(blob)}`)).arrayBuffer())).toEqual(blob);
  });

  it('a manifest over 4 MiB is 413 SIZE_INVALID, declared or streamed; no image, no tag, no repository', async () => {
    const before = await head();
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, ' ');
    const declared = await v2('PUT', '/v2/bad/huge/manifests/1', big, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    expect(declared.status).toBe(413);
    expect(await errorOf(declared)).toMatchObject({ code: 'SIZE_INVALID', detail: { limit: 4 * 1024 * 1024 } });
    // Without a Content-Length (chunked): counted as it arrives, refused the same way.
    const streamed = await v2('PUT', '/v2/bad/huge/manifests/1', Readable.from([big.subarray(0, 2 * 1024 * 1024), big.subarray(2 * 1024 * 1024)]), {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
    });
    expect(streamed.status).toBe(413);
    expect((await errorOf(streamed)).code).toBe('SIZE_INVALID');
    expect(blobStored(sha256(big))).toBe(false);
    expect(await head()).toBe(before);
    const tags = await v2('GET', '/v2/bad/huge/tags/list');
    expect(tags.status).toBe(404);
    expect((await errorOf(tags)).code).toBe('NAME_UNKNOWN');
    // Within the limit but not a manifest: MANIFEST_INVALID, also recording nothing.
    const garbage = await v2('PUT', '/v2/bad/huge/manifests/1', '{"schemaVersion":2,"layers":"no"}', { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    expect(garbage.status).toBe(400);
    expect((await errorOf(garbage)).code).toBe('MANIFEST_INVALID');
    expect(await head()).toBe(before);
  });

  it('names that are not valid are NAME_INVALID on every route, and start nothing', async () => {
    const names = ['Upper/case', 'a/../b', '../etc', 'a//b', 'a/', '-a', 'a_-b', `${'a'.repeat(250)}/${'b'.repeat(10)}`];
    for (const name of names) {
      for (const [method, path] of [
        ['GET', `/v2/${name}/manifests/1`],
        ['PUT', `/v2/${name}/manifests/1`],
        ['GET', `/v2/${name}/tags/list`],
        ['POST', `/v2/${name}/blobs/uploads/`],
        ['HEAD', `/v2/${name}/blobs/${sha256('x')}`],
      ] as const) {
        const answer = await raw(method, path);
        expect({ name, method, path: path.slice(0, 40), status: answer.status }).toEqual({ name, method, path: path.slice(0, 40), status: 400 });
        if (method !== 'HEAD') expect(JSON.parse(answer.body).errors[0].code).toBe('NAME_INVALID');
      }
    }
    // 255 characters is the longest name: one more is invalid, exactly 255 is a name (unknown, not invalid).
    const longest = `${'a'.repeat(127)}/${'b'.repeat(127)}`;
    expect(longest.length).toBe(255);
    expect((await raw('GET', `/v2/${longest}/tags/list`)).status).toBe(404);
    expect(JSON.parse((await raw('GET', `/v2/${longest}x/tags/list`)).body).errors[0].code).toBe('NAME_INVALID');
    // A bad tag is TAG_INVALID, not a name error.
    const badTag = await v2('PUT', '/v2/bad/names/manifests/-nope', '{}', { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    expect((await errorOf(badTag)).code).toBe('TAG_INVALID');
    expect(dir('uploads')).toEqual([]);
    const catalog = (await (await v2('GET', '/v2/_catalog')).json()) as { repositories: string[] };
    expect(catalog.repositories.filter((r) => r.startsWith('bad/names'))).toEqual([]);
  });

  it('an upload never finished expires after STRATA_UPLOAD_TTL_MS: BLOB_UPLOAD_UNKNOWN, its data removed', async () => {
    const blob = Buffer.from('half an upload, then silence');
    // One touched once, then left; one never touched at all (only the sweep will see it).
    const left = (await v2('POST', '/v2/bad/abandoned/blobs/uploads/')).headers.get('location')!;
    expect((await v2('PATCH', left, blob.subarray(0, 10), { 'content-type': 'application/octet-stream' })).status).toBe(202);
    const untouched = (await v2('POST', '/v2/bad/abandoned/blobs/uploads/')).headers.get('location')!;
    const uuids = [left, untouched].map((l) => l.split('/').pop()!);
    expect(dir('uploads').sort()).toEqual(uuids.flatMap((u) => [`${u}.data`, `${u}.json`]).sort());
    // Still alive well within the TTL.
    expect((await v2('GET', left)).status).toBe(204);

    // The sweep removes the files without anyone asking (it runs a few times per TTL).
    await eventually(() => dir('uploads').length === 0, TTL_MS * 6, 'the sweep to remove the expired uploads');
    for (const location of [left, untouched]) {
      for (const [method, body, headers] of [
        ['GET', undefined, {}],
        ['PATCH', blob.subarray(10), { 'content-type': 'application/octet-stream', 'content-range': `10-${blob.length - 1}` }],
        ['PUT', blob.subarray(10), { 'content-type': 'application/octet-stream' }],
        ['DELETE', undefined, {}],
      ] as const) {
        const answer = await v2(method, method === 'PUT' ? `${location}?digest=${sha256(blob)}` : location, body, headers);
        expect({ method, status: answer.status }).toEqual({ method, status: 404 });
        expect((await errorOf(answer)).code).toBe('BLOB_UPLOAD_UNKNOWN');
      }
    }
    expect(dir('uploads')).toEqual([]);
    expect(dir('ingest')).toEqual([]);
    expect(blobStored(sha256(blob))).toBe(false);

    // Expiry holds even between sweeps: a session past its TTL is unknown on the first look.
    const late = (await v2('POST', '/v2/bad/abandoned/blobs/uploads/')).headers.get('location')!;
    await new Promise((r) => setTimeout(r, TTL_MS + 200));
    const answer = await v2('PATCH', late, blob, { 'content-type': 'application/octet-stream' });
    expect(answer.status).toBe(404);
    expect((await errorOf(answer)).code).toBe('BLOB_UPLOAD_UNKNOWN');
    await eventually(() => dir('uploads').length === 0, TTL_MS * 4, 'the expired upload to go');

    // A live upload that keeps receiving bytes is not expired by its age alone.
    const live = (await v2('POST', '/v2/bad/abandoned/blobs/uploads/')).headers.get('location')!;
    let offset = 0;
    const slow = Buffer.alloc(6, 'z');
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, TTL_MS / 2));
      expect((await v2('PATCH', live, slow.subarray(offset, offset + 2), { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + 1}` })).status).toBe(202);
      offset += 2;
    }
    expect((await v2('PUT', `${live}?digest=${sha256(slow)}`)).status).toBe(201);
  });
});
