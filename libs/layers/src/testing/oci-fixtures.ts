import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { sha256Digest } from '../content/digest.js';
import type { ContentStore } from '../content/port.js';
import { buildManifest, newImageConfig, serializeImageConfig } from '../oci/builders.js';
import { MediaTypes } from '../oci/media-types.js';
import type { Descriptor } from '../oci/schemas.js';

export interface TarFile {
  name: string;
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device';
  linkname?: string;
  mode?: number;
}

/** A tar built in memory (tests only: real code streams). */
export async function tarOf(files: TarFile[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const file of files) {
    const content = typeof file.content === 'string' ? Buffer.from(file.content) : file.content;
    const type = file.type ?? 'file';
    const header = { name: file.name, type, linkname: file.linkname, mode: file.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: new Date(0) };
    if (content) pack.entry({ ...header, size: content.length }, content);
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A small layer tar with a file or two. */
export function sampleLayer(tag: string): Promise<Buffer> {
  return tarOf([
    { name: 'etc/', type: 'directory' },
    { name: `etc/${tag}.conf`, content: `${tag}\n` },
  ]);
}

export interface StoredImage {
  manifestDigest: string;
  configDigest: string;
  layers: Descriptor[];
  diffIds: string[];
}

/** Puts an image made of `layers` (plain tars; gzipped when asked) into the store, as import would. */
export async function storeImage(store: ContentStore, layers: Buffer[], options: { gzip?: boolean; diffIds?: string[] } = {}): Promise<StoredImage> {
  const diffIds = options.diffIds ?? layers.map((layer) => sha256Digest(layer));
  const descriptors: Descriptor[] = [];
  for (const layer of layers) {
    const bytes = options.gzip ? gzipSync(layer) : layer;
    const info = await store.putBytes(bytes);
    descriptors.push({ mediaType: options.gzip ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer, digest: info.digest, size: info.size });
  }
  const config = serializeImageConfig(newImageConfig({ diffIds, created: '2024-01-01T00:00:00Z', architecture: 'amd64', os: 'linux' }));
  await store.putBytes(config.bytes);
  const manifest = buildManifest(config.descriptor, descriptors);
  await store.putBytes(manifest.bytes);
  return { manifestDigest: manifest.descriptor.digest, configDigest: config.descriptor.digest, layers: descriptors, diffIds };
}

export interface HandmadeLayout {
  /** Blob files to write under blobs/sha256/<name> (name = the hex the file claims to be). */
  blobs: Map<string, Buffer>;
  index: unknown;
  ociLayout?: string;
}

/**
 * The files of an OCI layout holding one image, built by hand so tests can break any part of it.
 * `tweak` edits the manifest or config object before they are serialised.
 */
export async function handmadeLayout(options: {
  layers: Buffer[];
  diffIds?: string[];
  tweakManifest?: (manifest: Record<string, any>) => void;
  refName?: string;
}): Promise<HandmadeLayout & { manifestDigest: string }> {
  const blobs = new Map<string, Buffer>();
  const add = (bytes: Buffer) => {
    const digest = sha256Digest(bytes);
    blobs.set(digest.slice(7), bytes);
    return digest;
  };
  const layerDescriptors = options.layers.map((layer) => ({ mediaType: MediaTypes.ociLayer, digest: add(layer), size: layer.length }));
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: options.diffIds ?? options.layers.map((l) => sha256Digest(l)) } }),
  );
  const manifest: Record<string, any> = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: add(config), size: config.length },
    layers: layerDescriptors,
  };
  options.tweakManifest?.(manifest);
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = add(manifestBytes);
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: MediaTypes.ociManifest,
        digest: manifestDigest,
        size: manifestBytes.length,
        annotations: { 'org.opencontainers.image.ref.name': options.refName ?? 'test' },
      },
    ],
  };
  return { blobs, index, manifestDigest };
}

/** The layout's files as tar entries. */
export function layoutFiles(layout: HandmadeLayout): TarFile[] {
  return [
    { name: 'oci-layout', content: layout.ociLayout ?? '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', content: JSON.stringify(layout.index) },
    ...[...layout.blobs].map(([hex, bytes]) => ({ name: `blobs/sha256/${hex}`, content: bytes })),
  ];
}

export async function writeLayoutDir(dir: string, layout: HandmadeLayout): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const file of layoutFiles(layout)) await writeFile(join(dir, file.name), file.content!);
}
