import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import tar, { type Header } from 'tar-stream';
import { buildIndex, buildManifest, newImageConfig, serializeImageConfig } from '@strata/layers';

export type TarEntry = Partial<Header> & { name: string; body?: string | Buffer };

/** A tar of exactly these entries, hostile ones included: tar-stream writes what it is told. */
export async function tarOfEntries(entries: TarEntry[], options: { finalize?: boolean } = {}): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ mode: 0o644, mtime: new Date(0), ...header }, body ?? '', (error) => (error ? reject(error) : resolve()));
    });
  }
  if (options.finalize !== false) pack.finalize();
  else pack.push(null); // ends the stream without the end-of-archive blocks
  await collected;
  return Buffer.concat(chunks);
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface LayoutTweaks {
  /** Replace the config's diff_ids. */
  diffIds?: string[];
  /** Announce this size for the first layer in the manifest. */
  layerSize?: number;
  /** Store the first layer under a name that is not its digest. */
  misnameLayer?: boolean;
  /** Extra files in the archive (name → bytes). */
  extra?: Record<string, Buffer>;
}

/** An OCI image layout tar over these layer tars, built by the codec, then bent as asked. */
export async function ociLayoutArchive(layers: Buffer[], tweaks: LayoutTweaks = {}): Promise<Buffer> {
  const diffIds = tweaks.diffIds ?? layers.map(sha256);
  const config = serializeImageConfig(newImageConfig({ diffIds, created: '2026-01-01T00:00:00Z', architecture: 'amd64', os: 'linux' }));
  const layerDescriptors = layers.map((bytes, i) => ({
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    digest: sha256(bytes),
    size: i === 0 && tweaks.layerSize !== undefined ? tweaks.layerSize : bytes.length,
  }));
  const manifest = buildManifest(config.descriptor, layerDescriptors);
  const index = buildIndex([{ ...manifest.descriptor, annotations: { 'org.opencontainers.image.ref.name': 'hostile:1' } }]);
  const files: TarEntry[] = [
    { name: 'oci-layout', body: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', body: index.bytes },
    { name: `blobs/sha256/${config.descriptor.digest.slice(7)}`, body: config.bytes },
    { name: `blobs/sha256/${manifest.descriptor.digest.slice(7)}`, body: manifest.bytes },
    ...layers.map((bytes, i) => ({
      name: `blobs/sha256/${i === 0 && tweaks.misnameLayer ? 'f'.repeat(64) : sha256(bytes).slice(7)}`,
      body: bytes,
    })),
    ...Object.entries(tweaks.extra ?? {}).map(([name, body]) => ({ name, body })),
  ];
  return tarOfEntries(files);
}

/** Many zero bytes that gzip down to almost nothing: the shape of a gzip bomb. */
export async function gzipBomb(uncompressedBytes: number): Promise<Buffer> {
  return gzipSync(await tarOfEntries([{ name: 'zeros', body: Buffer.alloc(uncompressedBytes) }]), { level: 9 });
}
