import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Digest } from '../content/digest.js';
import { FsContentStore } from '../content/fs-content-store.js';
import { makeBusyboxRootfs } from '../testing/busybox-rootfs.js';
import { requireTool, runTool } from '../testing/oci-tools.js';
import { describeTree, type TreeEntry } from '../testing/oci-tree.js';
import { loadArchive } from './archive-reader.js';
import { writeOciLayout } from './layout-writer.js';
import { MediaTypes } from './media-types.js';

// The round trip through tools nobody here wrote: umoci builds an image over a busybox rootfs, we load
// it, write it back, and umoci and skopeo must accept what we wrote and find the same files in it.
describe('OCI round trip through umoci and skopeo', () => {
  let work: string;
  let layout: string; // built by umoci
  let original: Map<string, TreeEntry>;
  let store: FsContentStore;

  beforeAll(async () => {
    await requireTool('umoci');
    await requireTool('skopeo');
    work = await mkdtemp(join(tmpdir(), 'strata-oci-tools-'));
    layout = join(work, 'umoci-layout');
    const bundle = join(work, 'umoci-bundle');
    await runTool('umoci', ['init', '--layout', layout]);
    await runTool('umoci', ['new', '--image', `${layout}:base`]);
    await runTool('umoci', ['unpack', '--image', `${layout}:base`, bundle]);
    await makeBusyboxRootfs(join(bundle, 'rootfs'));
    await runTool('umoci', ['repack', '--image', `${layout}:base`, bundle]);
    original = await describeTree(join(bundle, 'rootfs'));
    store = await FsContentStore.open(join(work, 'store'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** umoci's own view of a layout we wrote: unpack it and describe the rootfs. */
  const unpackWithUmoci = async (dir: string, ref: string) => {
    const bundle = join(work, `unpacked-${sha256Digest(dir + ref).slice(7, 19)}`);
    await runTool('umoci', ['unpack', '--image', `${dir}:${ref}`, bundle]);
    return describeTree(join(bundle, 'rootfs'));
  };

  it('loads the layout umoci built, keeping its manifest', async () => {
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    const loaded = await loadArchive(store, { dir: layout });
    expect(loaded).toHaveLength(1);
    expect(loaded[0]).toMatchObject({ refName: 'base', manifestDigest: index.manifests[0].digest, platform: { os: 'linux' } });
    expect(loaded[0].layers).toHaveLength(1);
    expect(loaded[0].layers[0].mediaType).toBe(MediaTypes.ociLayerGzip);
    expect(loaded[0].chainIds).toEqual([loaded[0].layers[0].diffId]);
    expect(original.get('bin/busybox')?.type).toBe('file');
    expect(original.get('bin/sh')).toMatchObject({ type: 'symlink', linkname: 'busybox' });
    expect(original.get('tmp')).toMatchObject({ type: 'dir', mode: 0o1777 });
  });

  it('writes a layout directory that skopeo inspects and copies, and umoci unpacks to the same rootfs', async () => {
    const [image] = await loadArchive(store, { dir: layout });
    const ours = join(work, 'ours');
    await writeOciLayout(store, [{ manifestDigest: image.manifestDigest, refName: 'base' }], { dir: ours });

    const inspected = JSON.parse(await runTool('skopeo', ['inspect', `oci:${ours}:base`]));
    expect(inspected.Digest).toBe(image.manifestDigest);
    expect(inspected.Layers).toEqual(image.layers.map((l) => l.digest));

    const copy = join(work, 'copy');
    await runTool('skopeo', ['copy', '--quiet', `oci:${ours}:base`, `oci:${copy}:base`]);
    expect(JSON.parse(await readFile(join(copy, 'index.json'), 'utf8')).manifests[0].digest).toBe(image.manifestDigest);

    expect(await unpackWithUmoci(ours, 'base')).toEqual(original);
  });

  it('writes a layout tar that skopeo reads as oci-archive and that loads back, plain or gzipped', async () => {
    const [image] = await loadArchive(store, { dir: layout });
    const tarPath = join(work, 'ours.tar');
    await writeOciLayout(store, [{ manifestDigest: image.manifestDigest, refName: 'base' }], { stream: createWriteStream(tarPath) });
    const inspected = JSON.parse(await runTool('skopeo', ['inspect', `oci-archive:${tarPath}:base`]));
    expect(inspected.Digest).toBe(image.manifestDigest);

    // The same images give the same bytes.
    const again = join(work, 'again.tar');
    await writeOciLayout(store, [{ manifestDigest: image.manifestDigest, refName: 'base' }], { stream: createWriteStream(again) });
    expect((await readFile(again)).equals(await readFile(tarPath))).toBe(true);

    const fresh = await FsContentStore.open(join(work, 'fresh-store'));
    const [fromTar] = await loadArchive(fresh, { stream: createReadStream(tarPath) });
    expect(fromTar).toMatchObject({ manifestDigest: image.manifestDigest, refName: 'base', configDigest: image.configDigest });

    const gzPath = join(work, 'ours.tar.gz');
    await pipeline(createReadStream(tarPath), createGzip(), createWriteStream(gzPath));
    const [fromGzip] = await loadArchive(fresh, { stream: createReadStream(gzPath) });
    expect(fromGzip.manifestDigest).toBe(image.manifestDigest);

    // GNU tar agrees it is a tar of a layout.
    const listing = await runTool('tar', ['-tf', tarPath]);
    expect(listing.split('\n')).toEqual(expect.arrayContaining(['oci-layout', 'index.json', `blobs/sha256/${image.layers[0].digest.slice(7)}`]));
  });

  it('loads a docker save tarball written by skopeo, converted to OCI, with the same files', async () => {
    const archive = join(work, 'docker-save.tar');
    await runTool('skopeo', ['copy', '--quiet', `oci:${layout}:base`, `docker-archive:${archive}:demo/app:1`]);
    const [umociImage] = await loadArchive(store, { dir: layout });

    const progress: string[] = [];
    const loaded = await loadArchive(store, { stream: createReadStream(archive) }, { onProgress: (p) => progress.push(p.phase) });
    expect(loaded).toHaveLength(1);
    const [image] = loaded;
    expect(image.refName).toMatch(/^(docker\.io\/)?demo\/app:1$/);
    // Same config bytes (the image id is kept), same uncompressed layers, now as an OCI image.
    expect(image.configDigest).toBe(umociImage.configDigest);
    expect(image.layers.map((l) => l.diffId)).toEqual(umociImage.layers.map((l) => l.diffId));
    expect(image.layers[0].mediaType).toBe(MediaTypes.ociLayer);
    expect(image.manifest.mediaType).toBe(MediaTypes.ociManifest);
    expect(image.manifest.config.mediaType).toBe(MediaTypes.ociConfig);
    expect(progress).toEqual(expect.arrayContaining(['reading', 'verifying', 'done']));

    const out = join(work, 'from-docker');
    await writeOciLayout(store, [{ manifestDigest: image.manifestDigest, refName: 'demo' }], { dir: out });
    await runTool('skopeo', ['inspect', `oci:${out}:demo`]);
    expect(await unpackWithUmoci(out, 'demo')).toEqual(original);
  });

  it('writes several images into one layout, each shared blob once', async () => {
    const [image] = await loadArchive(store, { dir: layout });
    const both = join(work, 'both');
    await mkdir(both);
    const written = await writeOciLayout(
      store,
      [
        { manifestDigest: image.manifestDigest, refName: 'one' },
        { manifestDigest: image.manifestDigest, refName: 'two' },
      ],
      { dir: both },
    );
    expect(written.index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'])).toEqual(['one', 'two']);
    expect(written.blobs).toHaveLength(3); // manifest, config, one layer
    const tags = (await runTool('umoci', ['ls', '--layout', both])).trim().split('\n').sort();
    expect(tags).toEqual(['one', 'two']);
  });
});
