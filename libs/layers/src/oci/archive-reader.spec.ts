import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Digest } from '../content/digest.js';
import { FsContentStore } from '../content/fs-content-store.js';
import { ContentLeases } from '../content/leases.js';
import { handmadeLayout, layoutFiles, sampleLayer, storeImage, tarOf, writeLayoutDir, type TarFile } from '../testing/oci-fixtures.js';
import { loadArchive } from './archive-reader.js';
import { writeOciLayout } from './layout-writer.js';
import { MediaTypes } from './media-types.js';
import { hostPlatform } from './platform.js';

const streamOf = (bytes: Buffer) => ({ stream: Readable.from([bytes]) });

describe('loadArchive', () => {
  let work: string;
  let store: FsContentStore;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'strata-load-'));
    store = await FsContentStore.open(join(work, 'store'));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  const loadTar = async (files: TarFile[], options = {}) => loadArchive(store, streamOf(await tarOf(files)), options);

  describe('formats', () => {
    it('loads what writeOciLayout wrote, as a tar and a directory, into another store', async () => {
      const source = await FsContentStore.open(join(work, 'source'));
      const image = await storeImage(source, [await sampleLayer('a'), await sampleLayer('b')], { gzip: true });
      const chunks: Buffer[] = [];
      const sink = new (await import('node:stream')).Writable({
        write(chunk, _enc, done) {
          chunks.push(chunk);
          done();
        },
      });
      await writeOciLayout(source, [{ manifestDigest: image.manifestDigest, refName: 'demo/app:1' }], { stream: sink });
      const [fromTar] = await loadArchive(store, streamOf(Buffer.concat(chunks)));
      expect(fromTar).toMatchObject({ refName: 'demo/app:1', manifestDigest: image.manifestDigest, configDigest: image.configDigest });
      expect(fromTar.layers.map((l) => l.diffId)).toEqual(image.diffIds);

      await writeOciLayout(source, [{ manifestDigest: image.manifestDigest }], { dir: join(work, 'dir') });
      const [fromDir] = await loadArchive(await FsContentStore.open(join(work, 'third')), { dir: join(work, 'dir') });
      expect(fromDir.manifestDigest).toBe(image.manifestDigest);
      expect(fromDir.refName).toBeUndefined();
    });

    it('reads a docker save archive (<id>/layer.tar, symlinked duplicates, several tags) and converts it to OCI', async () => {
      const base = await sampleLayer('base');
      const top = await sampleLayer('top');
      const config = Buffer.from(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          config: { Cmd: ['sh'], Env: null },
          rootfs: { type: 'layers', diff_ids: [base, top, base].map((l) => sha256Digest(l)) },
          docker_version: '20.10.0',
        }),
      );
      const configName = `${sha256Digest(config).slice(7)}.json`;
      const [id1, id2, id3] = ['1', '2', '3'].map((c) => c.repeat(64));
      const loaded = await loadTar([
        { name: `${id1}/`, type: 'directory' },
        { name: `${id1}/layer.tar`, content: base },
        { name: `${id1}/VERSION`, content: '1.0' },
        { name: `${id1}/json`, content: '{}' },
        { name: `${id2}/layer.tar`, content: gzipSync(top) },
        { name: `${id3}/layer.tar`, type: 'symlink', linkname: `../${id1}/layer.tar` },
        { name: configName, content: config },
        { name: 'manifest.json', content: JSON.stringify([{ Config: configName, RepoTags: ['demo/app:1', 'demo/app:latest'], Layers: [`${id1}/layer.tar`, `${id2}/layer.tar`, `${id3}/layer.tar`] }]) },
        { name: 'repositories', content: '{}' },
      ]);
      expect(loaded.map((i) => i.refName)).toEqual(['demo/app:1', 'demo/app:latest']);
      const [image] = loaded;
      expect(loaded[1].manifestDigest).toBe(image.manifestDigest);
      expect(image.configDigest).toBe(sha256Digest(config)); // image id kept
      expect(image.layers.map((l) => l.mediaType)).toEqual([MediaTypes.ociLayer, MediaTypes.ociLayerGzip, MediaTypes.ociLayer]);
      expect(image.layers[0].digest).toBe(image.layers[2].digest);
      expect(image.manifest).toMatchObject({ mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig } });
      expect(image.config.docker_version).toBe('20.10.0');
    });

    it('prefers index.json when a docker save archive has one (Docker ≥ 25), naming images by io.containerd.image.name', async () => {
      const layout = await handmadeLayout({ layers: [await sampleLayer('new')] });
      (layout.index as any).manifests[0].annotations['io.containerd.image.name'] = 'docker.io/library/demo:latest';
      const loaded = await loadTar([...layoutFiles(layout), { name: 'manifest.json', content: JSON.stringify([{ Config: 'missing.json', RepoTags: ['x:1'], Layers: ['missing.tar'] }]) }]);
      expect(loaded.map((i) => [i.refName, i.manifestDigest])).toEqual([['docker.io/library/demo:latest', layout.manifestDigest]]);
    });

    it('picks linux on the host architecture from a multi-platform index, and says which', async () => {
      const layer = await sampleLayer('multi');
      const host = hostPlatform();
      const hostImage = await handmadeLayout({ layers: [layer] });
      const blobs = new Map(hostImage.blobs);
      const manifestOf = (digest: string) => blobs.get(digest.slice(7))!;
      const platforms = [
        { os: 'linux', architecture: host.architecture === 's390x' ? 'ppc64le' : 's390x' },
        { ...host },
      ];
      const nested = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociIndex,
          manifests: platforms.map((platform) => ({ mediaType: MediaTypes.ociManifest, digest: hostImage.manifestDigest, size: manifestOf(hostImage.manifestDigest).length, platform })),
        }),
      );
      // the other platform's entry points at a manifest that is not there: it must not be read
      const other = JSON.parse(nested.toString());
      other.manifests[0].digest = sha256Digest('other platform');
      const indexBytes = Buffer.from(JSON.stringify(other));
      blobs.set(sha256Digest(indexBytes).slice(7), indexBytes);
      const index = { schemaVersion: 2, manifests: [{ mediaType: MediaTypes.ociIndex, digest: sha256Digest(indexBytes), size: indexBytes.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] };
      await writeLayoutDir(join(work, 'multi'), { blobs, index });

      const [image] = await loadArchive(store, { dir: join(work, 'multi') });
      expect(image).toMatchObject({ refName: 'multi', manifestDigest: hostImage.manifestDigest, indexDigest: sha256Digest(indexBytes), platform: { os: 'linux' } });

      await expect(loadArchive(store, { dir: join(work, 'multi') }, { platform: { os: 'linux', architecture: 'mips64le' } })).rejects.toMatchObject({
        code: 'PLATFORM_NOT_FOUND',
        message: expect.stringContaining('linux/mips64le'),
      });
    });

    it('holds every blob it stores under the lease, and reports progress', async () => {
      const layout = await handmadeLayout({ layers: [await sampleLayer('lease')] });
      const leases = new ContentLeases();
      const lease = leases.acquire();
      const phases = new Set<string>();
      const [image] = await loadTar(layoutFiles(layout), { lease, onProgress: (p: { phase: string; blobs: number }) => phases.add(p.phase) });
      for (const digest of [image.manifestDigest, image.configDigest, ...image.layers.map((l) => l.digest)]) expect(leases.isHeld(digest)).toBe(true);
      expect([...phases]).toEqual(['reading', 'verifying', 'done']);
    });
  });

  describe('hostile archives', () => {
    it('refuses a blob whose bytes do not hash to its name (DIGEST_MISMATCH), in a stream and in a directory', async () => {
      const layout = await handmadeLayout({ layers: [await sampleLayer('x')] });
      const [layerHex] = [...layout.blobs.keys()];
      layout.blobs.set(layerHex, Buffer.from('not the layer at all'));
      await expect(loadTar(layoutFiles(layout))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      await writeLayoutDir(join(work, 'dir'), layout);
      await expect(loadArchive(store, { dir: join(work, 'dir') })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      expect(await store.has(`sha256:${layerHex}`)).toBe(false);
      expect(await readdir(join(work, 'store', 'ingest'))).toEqual([]);
    });

    it('refuses a docker save config that does not hash to its <id>.json name (DIGEST_MISMATCH)', async () => {
      const layer = await sampleLayer('cfg');
      const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest(layer)] } });
      const lying = `${sha256Digest('another config').slice(7)}.json`;
      await expect(
        loadTar([
          { name: 'l/layer.tar', content: layer },
          { name: lying, content: config },
          { name: 'manifest.json', content: JSON.stringify([{ Config: lying, RepoTags: ['a:1'], Layers: ['l/layer.tar'] }]) },
        ]),
      ).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    });

    it('refuses a manifest that gives a layer the wrong size (SIZE_MISMATCH)', async () => {
      const layout = await handmadeLayout({ layers: [await sampleLayer('size')], tweakManifest: (m) => (m.layers[0].size += 1) });
      await expect(loadTar(layoutFiles(layout))).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
      await writeLayoutDir(join(work, 'dir'), layout);
      await expect(loadArchive(store, { dir: join(work, 'dir') })).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
    });

    it('refuses a config whose diff_ids do not match the layers (DIFF_ID_MISMATCH)', async () => {
      const layout = await handmadeLayout({ layers: [await sampleLayer('diff')], diffIds: [sha256Digest('something else')] });
      await expect(loadTar(layoutFiles(layout))).rejects.toMatchObject({ code: 'DIFF_ID_MISMATCH' });
    });

    it('refuses a manifest that references a blob the archive does not have (BLOB_UNKNOWN)', async () => {
      const layout = await handmadeLayout({ layers: [await sampleLayer('missing')] });
      const layerHex = [...layout.blobs.keys()][0];
      layout.blobs.delete(layerHex);
      await expect(loadTar(layoutFiles(layout))).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
      await writeLayoutDir(join(work, 'dir'), layout);
      await expect(loadArchive(store, { dir: join(work, 'dir') })).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    });

    it.each([
      ['a ../ file name', '../../etc/evil'],
      ['a ../ inside a name', 'blobs/../../evil'],
      ['an absolute file name', '/etc/evil'],
    ])('refuses %s (UNSAFE_PATH) and writes nothing outside', async (_what, name) => {
      const layout = await handmadeLayout({ layers: [await sampleLayer('p')] });
      await expect(loadTar([{ name, content: 'x' }, ...layoutFiles(layout)])).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
      expect(await readdir(work)).toEqual(['store']);
    });

    it('refuses a docker save manifest.json that points outside the archive (UNSAFE_PATH)', async () => {
      await mkdir(join(work, 'save'));
      await writeFile(join(work, 'save', 'manifest.json'), JSON.stringify([{ Config: '../../etc/passwd', RepoTags: null, Layers: [] }]));
      await expect(loadArchive(store, { dir: join(work, 'save') })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    });

    it('refuses links that lead out of the archive (LINK_ESCAPE), in a stream and in a directory', async () => {
      await expect(loadTar([{ name: 'a/layer.tar', type: 'symlink', linkname: '../../outside' }])).rejects.toMatchObject({ code: 'LINK_ESCAPE' });
      await expect(loadTar([{ name: 'a/layer.tar', type: 'symlink', linkname: '/etc/passwd' }])).rejects.toMatchObject({ code: 'LINK_ESCAPE' });
      const dir = join(work, 'save');
      await mkdir(dir);
      await symlink('/etc/passwd', join(dir, 'config.json'));
      await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', Layers: [] }]));
      await expect(loadArchive(store, { dir })).rejects.toMatchObject({ code: 'LINK_ESCAPE' });
    });

    it('refuses the same file twice (DUPLICATE_ENTRY) and device nodes (UNSUPPORTED_ENTRY)', async () => {
      const layout = await handmadeLayout({ layers: [await sampleLayer('d')] });
      await expect(loadTar([...layoutFiles(layout), { name: 'index.json', content: '{}' }])).rejects.toMatchObject({ code: 'DUPLICATE_ENTRY' });
      await expect(loadTar([{ name: 'dev/null', type: 'character-device' }])).rejects.toMatchObject({ code: 'UNSUPPORTED_ENTRY' });
    });

    it.each([
      ['random bytes', randomBytes(4096)],
      ['a short text', Buffer.from('hello, I am not an archive\n')],
      ['nothing at all', Buffer.alloc(0)],
      ['gzip of text', gzipSync(Buffer.from('still not a tar'.repeat(100)))],
    ])('refuses %s (LAYOUT_INVALID)', async (_what, bytes) => {
      await expect(loadArchive(store, streamOf(bytes))).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
    });

    it('refuses a tar that is neither format, and a directory that is neither (LAYOUT_INVALID)', async () => {
      await expect(loadTar([{ name: 'README', content: 'hi' }])).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
      await mkdir(join(work, 'empty'));
      await expect(loadArchive(store, { dir: join(work, 'empty') })).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
      await expect(loadArchive(store, { dir: join(work, 'nowhere') })).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
      const layout = await handmadeLayout({ layers: [await sampleLayer('v')] });
      await expect(loadTar(layoutFiles({ ...layout, ociLayout: '{"imageLayoutVersion":"2.0.0"}' }))).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
    });

    it('refuses an archive cut short (TRUNCATED_ARCHIVE)', async () => {
      const layout = await handmadeLayout({ layers: [Buffer.alloc(64 * 1024, 1)] });
      const whole = await tarOf(layoutFiles(layout));
      await expect(loadArchive(store, streamOf(whole.subarray(0, whole.length - 40_000)))).rejects.toMatchObject({ code: 'TRUNCATED_ARCHIVE' });
      expect(await readdir(join(work, 'store', 'ingest'))).toEqual([]);
    });

    it('stops an archive over its caps (SIZE_LIMIT): a gzip bomb, a huge JSON file, a huge blob', async () => {
      const bomb = gzipSync(await tarOf([{ name: 'big', content: Buffer.alloc(8 * 1024 * 1024) }]));
      await expect(loadArchive(store, streamOf(bomb), { maxArchiveBytes: 1024 * 1024 })).rejects.toMatchObject({ code: 'SIZE_LIMIT' });
      await expect(loadTar([{ name: 'index.json', content: Buffer.alloc(2048, 32) }], { maxJsonBytes: 1024 })).rejects.toMatchObject({ code: 'SIZE_LIMIT' });
      await expect(loadTar([{ name: 'x/layer.tar', content: Buffer.alloc(4096) }], { maxBlobBytes: 1024 })).rejects.toMatchObject({ code: 'SIZE_LIMIT' });
      expect(await readdir(join(work, 'store', 'ingest'))).toEqual([]);
    });
  });
});
