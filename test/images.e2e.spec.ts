import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile, chown, chmod, symlink, link } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageView, LoadImageReply } from '@strata/api';
import { FsContentStore, NativeSnapshotter, OverlaySnapshotter, unpackImage, withMounted } from '@strata/layers';
import { makeBusyboxRootfs } from '../libs/layers/src/testing/busybox-rootfs.js';
import { ADMIN_TOKEN, startTestNode, type TestNode } from './support/test-node.js';
import { tarOf, tool, treeOf } from './support/trees.js';

/**
 * Issue 3's proof, through tools nobody here wrote: an image built by umoci over a busybox rootfs is
 * loaded, saved back, and umoci and skopeo accept what we wrote; a second layer made by umoci (a deleted
 * file, a replaced directory) reads back right through the union view; a `docker save` archive made by
 * skopeo loads too. Real files, real tools, a real node.
 */
describe('images end to end (umoci, skopeo)', () => {
  let t: TestNode;
  let work: string;
  let layout: string;
  let base: ImageView;
  let v2: ImageView;

  const upload = async (path: string, body: Buffer, type = 'application/x-tar') => {
    const r = await fetch(`${t.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': type }, body });
    return { status: r.status, body: JSON.parse(await r.text()) };
  };
  const head = async () => (await t.json('GET', '/healthz')).body.head as number;

  beforeAll(async () => {
    t = await startTestNode({ env: { STRATA_PRUNE_GRACE_MS: '0' } });
    work = mkdtempSync(join(tmpdir(), 'strata-images-e2e-'));
    layout = join(work, 'layout');
    // Base image: umoci's own layer over a busybox-static root filesystem.
    tool('umoci', ['init', '--layout', layout]);
    tool('umoci', ['new', '--image', `${layout}:base`]);
    tool('umoci', ['unpack', '--image', `${layout}:base`, join(work, 'b1')]);
    const root1 = join(work, 'b1/rootfs');
    await makeBusyboxRootfs(root1);
    await mkdir(join(root1, 'opt/app/lib'), { recursive: true });
    await writeFile(join(root1, 'opt/app/a.txt'), 'a\n');
    await writeFile(join(root1, 'opt/app/lib/b.txt'), 'b\n');
    await writeFile(join(root1, 'etc/secret'), 'only root\n', { mode: 0o600 });
    await mkdir(join(root1, 'home/user'), { recursive: true });
    await chown(join(root1, 'home/user'), 1000, 1000);
    await writeFile(join(root1, 'home/user/notes'), 'mine\n');
    await chown(join(root1, 'home/user/notes'), 1000, 1000);
    await link(join(root1, 'etc/passwd'), join(root1, 'etc/passwd.hardlink'));
    await mkdir(join(root1, 'var/empty'), { recursive: true });
    tool('umoci', ['repack', '--image', `${layout}:base`, join(work, 'b1')]);
    // v2: a second layer that deletes a file and replaces a directory.
    tool('umoci', ['unpack', '--image', `${layout}:base`, join(work, 'b2')]);
    const root2 = join(work, 'b2/rootfs');
    await rm(join(root2, 'etc/motd'));
    await rm(join(root2, 'opt/app'), { recursive: true });
    await mkdir(join(root2, 'opt/app'));
    await writeFile(join(root2, 'opt/app/c.txt'), 'c\n');
    await symlink('/etc/passwd', join(root2, 'opt/app/passwd'));
    await chmod(join(root2, 'opt/app/c.txt'), 0o640);
    tool('umoci', ['repack', '--image', `${layout}:v2`, join(work, 'b2')]);
  });
  afterAll(async () => {
    await t?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('loads the umoci layout: both images, verified, with their layers', async () => {
    const loaded = await upload('/images/load', tarOf(layout));
    expect(loaded.status).toBe(201);
    const reply = loaded.body as LoadImageReply;
    const byRef = Object.fromEntries(reply.images.map((i) => [i.refName, i.image]));
    base = byRef.base!;
    v2 = byRef.v2!;
    expect(base.layers).toHaveLength(1);
    expect(v2.layers).toHaveLength(2);
    expect(v2.layers[0]!.digest).toBe(base.layers[0]!.digest); // the same layer, stored once
    expect(v2.origin).toBe('load');
    // Tag them, by image id prefix and by digest, as a user would.
    expect((await t.json('PUT', '/repositories/demo%2Fbusybox/tags/1', { image: base.imageId.slice(7, 19) })).status).toBe(200);
    expect((await t.json('PUT', '/repositories/demo%2Fbusybox/tags/2', { digest: v2.manifestDigest })).status).toBe(200);
    const list = await t.json('GET', `/images?minPosition=${await head()}`);
    expect(list.body.items.map((i: ImageView) => i.tags).flat().sort()).toEqual(['demo/busybox:1', 'demo/busybox:2']);
    // Shared layers count once in the total.
    expect(list.body.totalSize).toBe(v2.layers.reduce((a, l) => a + l.size, 0));
    expect(list.body.uniqueLayers).toBe(2);
  });

  it('saves an OCI layout that skopeo inspects and copies, and umoci unpacks to the same root filesystems', async () => {
    const saved = await t.call('GET', '/images/save?ref=demo/busybox:1&ref=demo/busybox:2');
    expect(saved.status).toBe(200);
    const out = join(work, 'saved');
    mkdirSync(out);
    tool('tar', ['-C', out, '-xf', '-'], { input: Buffer.from(await saved.arrayBuffer()) });
    const inspect = JSON.parse(tool('skopeo', ['inspect', `oci:${out}:demo/busybox:2`]).toString());
    expect(inspect.Layers).toHaveLength(2);
    expect(inspect.Digest).toBe(v2.manifestDigest);
    tool('skopeo', ['copy', `oci:${out}:demo/busybox:2`, `oci:${join(work, 'copy')}:v2`]);
    for (const [ref, bundle, original] of [['demo/busybox:1', 'u1', 'b1'], ['demo/busybox:2', 'u2', 'b2']] as const) {
      tool('umoci', ['unpack', '--image', `${out}:${ref}`, join(work, bundle)]);
      expect(treeOf(join(work, bundle, 'rootfs'))).toEqual(treeOf(join(work, original, 'rootfs')));
    }
  });

  it('reads the union view without unpacking: a whiteout hides a file, a replaced directory hides its old children', async () => {
    const ref = encodeURIComponent('demo/busybox:2');
    const etc = await t.json('GET', `/images/${ref}/files?path=/etc`);
    const names = etc.body.items.map((e: any) => e.path);
    expect(names).toContain('/etc/passwd');
    expect(names).not.toContain('/etc/motd');
    const app = await t.json('GET', `/images/${ref}/files?path=/opt/app&recursive=true`);
    expect(app.body.items.map((e: any) => [e.path, e.type])).toEqual([['/opt/app/c.txt', 'file'], ['/opt/app/passwd', 'symlink']]);
    expect(app.body.items[0].mode & 0o777).toBe(0o640);
    const passwd = await t.call('GET', `/images/${ref}/content?path=/opt/app/passwd`);
    expect(await passwd.text()).toContain('root:x:0:0');
    const motd = await t.json('GET', `/images/${ref}/content?path=/etc/motd`);
    expect(motd.status).toBe(404);
    // The base image still has both.
    const old = await t.call('GET', `/images/${encodeURIComponent('demo/busybox:1')}/content?path=/etc/motd`);
    expect(await old.text()).toBe('Welcome to Strata\n');
    const history = await t.json('GET', `/images/${ref}/history`);
    expect(history.body.items).toHaveLength(2);
  });

  it('unpacks the two-layer image into both snapshotters, each showing exactly what umoci unpacked', async () => {
    const content = await FsContentStore.open(t.dataDir);
    for (const Snapshotter of [OverlaySnapshotter, NativeSnapshotter]) {
      const snapshotter = await Snapshotter.open(join(work, `snapshots-${Snapshotter.name}`));
      const layers = v2.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, chainId: l.chainId }));
      const top = await unpackImage(content, snapshotter, layers);
      expect(top).toBe(v2.layers.at(-1)!.chainId);
      const tree = await withMounted(await snapshotter.view('check', top), async (root) => treeOf(root));
      expect(tree).toEqual(treeOf(join(work, 'b2/rootfs')));
      await snapshotter.remove('check');
      // A second image sharing the base layer reuses it.
      const reused: boolean[] = [];
      await unpackImage(content, snapshotter, base.layers.map((l) => ({ digest: l.digest, diffId: l.diffId, chainId: l.chainId })), {
        onLayer: (_layer, _i, wasThere) => reused.push(wasThere),
      });
      expect(reused).toEqual([true]);
    }
  });

  it('loads a docker save archive made by skopeo, named by its RepoTags', async () => {
    const archive = join(work, 'docker.tar');
    tool('skopeo', ['copy', `oci:${layout}:v2`, `docker-archive:${archive}:demo/docker:1`]);
    const loaded = await upload('/images/load', readFileSync(archive));
    expect(loaded.status).toBe(201);
    const image = (loaded.body as LoadImageReply).images[0]!.image;
    expect(image.tags).toEqual(['demo/docker:1']);
    expect(image.layers.map((l) => l.diffId)).toEqual(v2.layers.map((l) => l.diffId)); // same content, other packaging
    const files = await t.json('GET', `/images/${encodeURIComponent('demo/docker:1')}/files?path=/opt/app`);
    expect(files.body.items.map((e: any) => e.path)).toEqual(['/opt/app/c.txt', '/opt/app/passwd']);
  });

  it('imports a root filesystem tar (docker import), plain and gzip, as a one-layer image', async () => {
    const rootfs = tarOf(join(work, 'b1/rootfs'));
    const plain = await upload('/images/import?tag=demo/imported:plain&source=rootfs.tar&message=first', rootfs);
    expect(plain.status).toBe(201);
    expect(plain.body.image).toMatchObject({ origin: 'import', tags: ['demo/imported:plain'], source: 'rootfs.tar' });
    expect(plain.body.image.history).toMatchObject([{ createdBy: 'strata import rootfs.tar', comment: 'first' }]);
    const { gzipSync } = await import('node:zlib');
    const gz = await upload('/images/import?tag=demo/imported:gz', gzipSync(rootfs), 'application/gzip');
    expect(gz.status).toBe(201);
    expect(gz.body.image.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(gz.body.image.layers[0].diffId).toBe(plain.body.image.layers[0].diffId);
  });

  it('removes images like docker rmi: refused while tagged, forced untags first; prune frees their blobs', async () => {
    const ref = encodeURIComponent('demo/imported:plain');
    const refused = await t.json('DELETE', `/images/${ref}`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('IMAGE_IN_USE');
    const before = await t.json('GET', '/images');
    const removed = await t.json('DELETE', `/images/${ref}?force=true`);
    expect(removed.status).toBe(200);
    expect(removed.body.untagged).toEqual(['demo/imported:plain']);
    expect(removed.body.commands.map((c: any) => c.events).flat()).toEqual(['ImageUntagged', 'ImageDeleted']);
    const after = await t.json('GET', `/images?minPosition=${removed.body.position}`);
    expect(after.body.items).toHaveLength(before.body.items.length - 1);
    expect((await t.json('DELETE', `/images/${ref}`)).body.code).toBe('IMAGE_NOT_FOUND');
    // The gzip import's layer is another blob; the plain one's layer and config are now garbage.
    const pruned = await t.json('POST', '/system/prune');
    expect(pruned.status).toBe(200);
    expect(pruned.body.removedBlobs).toBeGreaterThanOrEqual(3); // manifest, config, layer
    // Whatever live images need is still there: saving every image still works.
    const all = await t.call('GET', '/images/save?ref=demo/busybox:2&ref=demo/docker:1&ref=demo/imported:gz');
    expect(all.status).toBe(200);
    expect((await all.arrayBuffer()).byteLength).toBeGreaterThan(1024);
  });

  it('rebuilds every image read model from the log with the same checksum', async () => {
    const before = await t.json('GET', `/admin/checksum?minPosition=${await head()}`);
    const replay = await t.call('POST', '/admin/replay');
    const result = (await replay.text()).trim().split('\n').map((l) => JSON.parse(l)).at(-1);
    expect(result.checksumAfter).toBe(before.body.checksum);
  });
});
