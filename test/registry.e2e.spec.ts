import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventsReply, ImageView } from '@strata/api';
import { umociBusyboxLayout } from './support/busybox.js';
import { importImage } from './support/images.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';
import { tool, treeOf } from './support/trees.js';

/**
 * skopeo talks to the node in this very process: it must run asynchronously (execFileSync would block
 * the event loop that has to answer it). A missing tool fails saying which.
 */
function skopeo(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { maxBuffer: 64 * 1024 * 1024, timeout: 50_000 }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error('skopeo is not installed: run scripts/ensure-system-deps.sh (npm test does) or apt-get install skopeo'));
      else if (error) reject(new Error(`skopeo ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/**
 * Issue 6's first proof, through tools nobody here wrote: skopeo pushes an umoci-built image into a
 * node's /v2/ API and pulls it back out; umoci unpacks what came back to the same root filesystem.
 * Then the spec's edges with plain HTTP: anonymous access, ranges, refused manifests and uploads, paging.
 */
describe('registry end to end (skopeo, umoci)', () => {
  let t: TestNode;
  let work: string;
  let layout: string;
  let registry: string;

  /** A request to /v2/ with the admin token unless `headers` says otherwise (authorization: '' drops it). */
  const v2 = (method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}) => {
    const { authorization = `Bearer ${ADMIN_TOKEN}`, ...rest } = headers;
    return fetch(`${t.url}${path}`, { method, body, headers: { ...(authorization ? { authorization } : {}), ...rest } });
  };
  const anonymous = { authorization: '' };
  const errorCode = async (response: Response) => ((await response.json()) as { errors: Array<{ code: string }> }).errors[0]!.code;
  const head = async () => (await t.json<EventsReply>('GET', '/events?format=json&limit=10000')).body.items.length;

  beforeAll(async () => {
    t = await startTestNode();
    registry = t.url.replace(/^http:\/\//, '');
    work = mkdtempSync(join(tmpdir(), 'strata-registry-e2e-'));
    layout = await umociBusyboxLayout(work, 'pushed through /v2/\n');
  });
  afterAll(async () => {
    await t?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('skopeo copy pushes the umoci image: recorded with origin push, tagged, the admin as actor', async () => {
    const before = await head();
    await skopeo(['copy', '--dest-tls-verify=false', '--dest-registry-token', ADMIN_TOKEN, `oci:${layout}:base`, `docker://${registry}/demo/pushed:1`]);
    const tags = await t.json('GET', `/repositories/${encodeURIComponent('demo/pushed')}/tags`);
    expect(tags.body.items.map((x: any) => x.tag)).toEqual(['1']);
    const image = (await t.json<ImageView>('GET', `/images/${encodeURIComponent('demo/pushed:1')}`)).body;
    expect(image.origin).toBe('push');
    expect(image.tags).toEqual(['demo/pushed:1']);
    expect(image.layers).toHaveLength(1);
    const events = (await t.json<EventsReply>('GET', '/events?format=json&limit=10000')).body.items.slice(before);
    const created = events.find((e) => e.type === 'ImageCreated');
    const tagged = events.find((e) => e.type === 'ImageTagged');
    expect(created?.actor).toBe('admin');
    expect(tagged?.actor).toBe('admin');
    expect(tagged?.data).toMatchObject({ name: 'demo/pushed', tag: '1', digest: image.manifestDigest });
  });

  it('skopeo inspects it and copies it back out; umoci unpacks the same root filesystem', async () => {
    const inspect = JSON.parse(
      await skopeo(['inspect', '--tls-verify=false', '--registry-token', ADMIN_TOKEN, `docker://${registry}/demo/pushed:1`]),
    );
    const image = (await t.json<ImageView>('GET', `/images/${encodeURIComponent('demo/pushed:1')}`)).body;
    expect(inspect.Digest).toBe(image.manifestDigest);
    expect(inspect.Layers).toEqual(image.layers.map((l) => l.digest));
    const out = join(work, 'pulled');
    await skopeo(['copy', '--src-tls-verify=false', '--src-registry-token', ADMIN_TOKEN, `docker://${registry}/demo/pushed:1`, `oci:${out}:x`]);
    tool('umoci', ['unpack', '--image', `${out}:x`, join(work, 'u1')]);
    expect(treeOf(join(work, 'u1/rootfs'))).toEqual(treeOf(join(work, 'b1/rootfs')));
  });

  it('accepts a Docker v2 schema 2 manifest too, and serves it with its own media type', async () => {
    await skopeo(['copy', '--format', 'v2s2', '--dest-tls-verify=false', '--dest-registry-token', ADMIN_TOKEN, `oci:${layout}:base`, `docker://${registry}/demo/pushed:docker`]);
    const answer = await v2('HEAD', '/v2/demo/pushed/manifests/docker');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const image = (await t.json<ImageView>('GET', `/images/${encodeURIComponent('demo/pushed:docker')}`)).body;
    expect(answer.headers.get('docker-content-digest')).toBe(image.manifestDigest);
    expect(image.origin).toBe('push');
  });

  it('anonymous callers pull public repositories only; a private one answers like a missing one', async () => {
    // A first push creates the repository private.
    const privateAnswer = await v2('GET', '/v2/demo/pushed/manifests/1', undefined, anonymous);
    const missingAnswer = await v2('GET', '/v2/demo/nothing-here/manifests/1', undefined, anonymous);
    for (const answer of [privateAnswer, missingAnswer]) {
      expect(answer.status).toBe(401);
      expect(await errorCode(answer)).toBe('UNAUTHORIZED');
    }
    expect(privateAnswer.headers.get('www-authenticate')).toBe(
      `Bearer realm="${t.url}/v2/token",service="strata",scope="repository:demo/pushed:pull"`,
    );
    expect(missingAnswer.headers.get('www-authenticate')).toBe(
      `Bearer realm="${t.url}/v2/token",service="strata",scope="repository:demo/nothing-here:pull"`,
    );
    await expect(skopeo(['inspect', '--tls-verify=false', '--no-creds', `docker://${registry}/demo/pushed:1`])).rejects.toThrow(/unauthorized|authentication required/i);
    // Anonymous pushes are refused too.
    const push = await v2('POST', '/v2/demo/pushed/blobs/uploads/', undefined, anonymous);
    expect(push.status).toBe(401);
    expect(push.headers.get('www-authenticate')).toContain('scope="repository:demo/pushed:pull,push"');

    const visibility = await t.json('PUT', `/repositories/${encodeURIComponent('demo/pushed')}/visibility`, { visibility: 'public' });
    expect(visibility.status).toBe(200);
    // skopeo without credentials: challenged, fetches the anonymous token from the realm, pulls.
    const out = join(work, 'anonymous');
    await skopeo(['copy', '--src-tls-verify=false', '--src-no-creds', `docker://${registry}/demo/pushed:1`, `oci:${out}:x`]);
    tool('umoci', ['unpack', '--image', `${out}:x`, join(work, 'u2')]);
    expect(treeOf(join(work, 'u2/rootfs'))).toEqual(treeOf(join(work, 'b1/rootfs')));
    // The catalog shows an anonymous caller the public repositories only.
    await importImage(t.url, ADMIN_TOKEN, 'secret', 'hidden/repo:1');
    const catalog = await v2('GET', '/v2/_catalog', undefined, anonymous);
    expect(await catalog.json()).toEqual({ repositories: ['demo/pushed'] });
    // …and an anonymous reader of a public repository cannot fetch a private repository's blob through it.
    const hidden = (await t.json<ImageView>('GET', `/images/${encodeURIComponent('hidden/repo:1')}`)).body;
    const leak = await v2('GET', `/v2/demo/pushed/blobs/${hidden.layers[0]!.digest}`, undefined, anonymous);
    expect(leak.status).toBe(404);
    expect(await errorCode(leak)).toBe('BLOB_UNKNOWN');
  });

  it('serves blobs with Range: 206 and the slice, 416 outside, the digest header always', async () => {
    const image = (await t.json<ImageView>('GET', `/images/${encodeURIComponent('demo/pushed:1')}`)).body;
    const digest = image.layers[0]!.digest;
    const whole = Buffer.from(await (await v2('GET', `/v2/demo/pushed/blobs/${digest}`)).arrayBuffer());
    expect(sha256(whole)).toBe(digest);
    const part = await v2('GET', `/v2/demo/pushed/blobs/${digest}`, undefined, { range: 'bytes=10-99' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-99/${whole.length}`);
    expect(part.headers.get('content-length')).toBe('90');
    expect(part.headers.get('docker-content-digest')).toBe(digest);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(whole.subarray(10, 100));
    const outside = await v2('GET', `/v2/demo/pushed/blobs/${digest}`, undefined, { range: `bytes=${whole.length}-` });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${whole.length}`);
    const headAnswer = await v2('HEAD', `/v2/demo/pushed/blobs/${digest}`);
    expect(headAnswer.status).toBe(200);
    expect(headAnswer.headers.get('content-length')).toBe(String(whole.length));
    const missing = await v2('GET', `/v2/demo/pushed/blobs/${sha256('nothing')}`);
    expect(missing.status).toBe(404);
    expect(await errorCode(missing)).toBe('BLOB_UNKNOWN');
  });

  it('refuses a manifest that references a missing blob (MANIFEST_BLOB_UNKNOWN) and appends nothing', async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256('x')] } }));
    const monolithic = await v2('POST', `/v2/demo/broken/blobs/uploads/?digest=${sha256(config)}`, config, { 'content-type': 'application/octet-stream' });
    expect(monolithic.status).toBe(201);
    expect(monolithic.headers.get('location')).toBe(`/v2/demo/broken/blobs/${sha256(config)}`);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256('never uploaded'), size: 14 }],
    });
    const before = await head();
    const answer = await v2('PUT', '/v2/demo/broken/manifests/1', manifest, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    expect(answer.status).toBe(400);
    const body = (await answer.json()) as any;
    expect(body.errors[0]).toMatchObject({ code: 'MANIFEST_BLOB_UNKNOWN', detail: { digest: sha256('never uploaded') } });
    expect(await head()).toBe(before);
    const tags = await v2('GET', '/v2/demo/broken/tags/list');
    expect(tags.status).toBe(404);
    expect(await errorCode(tags)).toBe('NAME_UNKNOWN');
  });

  it('chunked uploads: in-order chunks, status, a wrong final digest is DIGEST_INVALID and stores nothing', async () => {
    const blob = Buffer.from('0123456789abcdefghij');
    const start = await v2('POST', '/v2/demo/chunks/blobs/uploads/');
    expect(start.status).toBe(202);
    expect(start.headers.get('range')).toBe('0-0');
    const location = start.headers.get('location')!;
    expect(location).toMatch(/^\/v2\/demo\/chunks\/blobs\/uploads\/[0-9a-f-]{36}$/);
    const first = await v2('PATCH', location, blob.subarray(0, 10), { 'content-range': '0-9', 'content-type': 'application/octet-stream' });
    expect(first.status).toBe(202);
    expect(first.headers.get('range')).toBe('0-9');
    const outOfOrder = await v2('PATCH', location, blob.subarray(15), { 'content-range': '15-19', 'content-type': 'application/octet-stream' });
    expect(outOfOrder.status).toBe(416);
    expect(outOfOrder.headers.get('range')).toBe('0-9');
    const status = await v2('GET', location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-9');
    const wrong = sha256('something else');
    const done = await v2('PUT', `${location}?digest=${wrong}`, blob.subarray(10), { 'content-range': '10-19', 'content-type': 'application/octet-stream' });
    expect(done.status).toBe(400);
    expect(await errorCode(done)).toBe('DIGEST_INVALID');
    expect((await v2('HEAD', `/v2/demo/chunks/blobs/${sha256(blob)}`)).status).toBe(404);
    expect((await v2('HEAD', `/v2/demo/chunks/blobs/${wrong}`)).status).toBe(404);
    expect((await v2('GET', location)).status).toBe(404); // the failed upload is gone: start again

    const again = (await v2('POST', '/v2/demo/chunks/blobs/uploads/')).headers.get('location')!;
    expect((await v2('PATCH', again, blob.subarray(0, 12), { 'content-type': 'application/octet-stream' })).status).toBe(202);
    const ok = await v2('PUT', `${again}?digest=${sha256(blob)}`, blob.subarray(12), { 'content-type': 'application/octet-stream' });
    expect(ok.status).toBe(201);
    expect(ok.headers.get('docker-content-digest')).toBe(sha256(blob));
    expect(Buffer.from(await (await v2('GET', `/v2/demo/chunks/blobs/${sha256(blob)}`)).arrayBuffer())).toEqual(blob);
    // A mount of a blob the node has answers 201 without an upload.
    const mount = await v2('POST', `/v2/demo/other/blobs/uploads/?mount=${sha256(blob)}&from=demo/chunks`);
    expect(mount.status).toBe(201);
    expect(mount.headers.get('location')).toBe(`/v2/demo/other/blobs/${sha256(blob)}`);
    // Cancelling an upload removes it.
    const cancelled = (await v2('POST', '/v2/demo/chunks/blobs/uploads/')).headers.get('location')!;
    expect((await v2('DELETE', cancelled)).status).toBe(204);
    expect(await errorCode(await v2('GET', cancelled))).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('pages tags/list and _catalog with n and last, with a Link to the next page', async () => {
    for (const tag of ['a', 'c', 'b', 'd']) await importImage(t.url, ADMIN_TOKEN, `page-${tag}`, `demo/paged:${tag}`);
    const page1 = await v2('GET', '/v2/demo/paged/tags/list?n=2');
    expect(await page1.json()).toEqual({ name: 'demo/paged', tags: ['a', 'b'] });
    expect(page1.headers.get('link')).toBe('</v2/demo/paged/tags/list?n=2&last=b>; rel="next"');
    const page2 = await v2('GET', '/v2/demo/paged/tags/list?n=2&last=b');
    expect(await page2.json()).toEqual({ name: 'demo/paged', tags: ['c', 'd'] });
    expect(page2.headers.get('link')).toBeNull();
    expect(await errorCode(await v2('GET', '/v2/demo/paged/tags/list?n=x'))).toBe('PAGINATION_NUMBER_INVALID');

    const all = (await (await v2('GET', '/v2/_catalog')).json()) as { repositories: string[] };
    expect(all.repositories).toEqual(['demo/paged', 'demo/pushed', 'hidden/repo']);
    const first = await v2('GET', '/v2/_catalog?n=1');
    expect(await first.json()).toEqual({ repositories: ['demo/paged'] });
    expect(first.headers.get('link')).toBe('</v2/_catalog?n=1&last=demo%2Fpaged>; rel="next"');
    expect(await (await v2('GET', '/v2/_catalog?n=5&last=demo/paged')).json()).toEqual({ repositories: ['demo/pushed', 'hidden/repo'] });
  });

  it('answers the base route to principals, and manifests by digest with their media type', async () => {
    const base = await v2('GET', '/v2/');
    expect(base.status).toBe(200);
    expect(base.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(await base.json()).toEqual({});
    const image = (await t.json<ImageView>('GET', `/images/${encodeURIComponent('demo/pushed:1')}`)).body;
    const byDigest = await v2('GET', `/v2/demo/pushed/manifests/${image.manifestDigest}`);
    expect(byDigest.status).toBe(200);
    expect(byDigest.headers.get('content-type')).toBe(image.manifestMediaType);
    expect(sha256(Buffer.from(await byDigest.arrayBuffer()))).toBe(image.manifestDigest);
    const unknownTag = await v2('HEAD', '/v2/demo/pushed/manifests/nope');
    expect(unknownTag.status).toBe(404);
    expect(await errorCode(await v2('GET', '/v2/demo/pushed/manifests/nope'))).toBe('MANIFEST_UNKNOWN');
    expect(await errorCode(await v2('GET', '/v2/Bad_Name/manifests/1'))).toBe('NAME_INVALID');
  });
});
