import { createWriteStream } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { parseDigest } from '../content/digest.js';
import type { BlobInfo, ContentStore } from '../content/port.js';
import { layerInvalid } from '../errors.js';
import { buildIndex } from './builders.js';
import { Annotations, MediaTypes } from './media-types.js';
import { parseImageConfig, parseManifest, type Descriptor, type ImageIndex } from './schemas.js';
import { readDocument, requireBlob } from './verify-image.js';

export interface LayoutImage {
  manifestDigest: string;
  /** Written as the `org.opencontainers.image.ref.name` annotation: what `skopeo … oci:<dir>:<ref>` names. */
  refName?: string;
}

export type LayoutTarget = { dir: string } | { stream: Writable };

export interface WrittenLayout {
  index: ImageIndex;
  blobs: BlobInfo[];
}

/** The OCI image layout version we write (image-spec, "oci-layout file"). */
const OCI_LAYOUT = Buffer.from('{"imageLayoutVersion":"1.0.0"}');
/** Fixed mtimes make the same images give the same tar bytes. */
const EPOCH = new Date(0);

// image-spec "Index", annotation org.opencontainers.image.ref.name: components of alphanumerics joined by
// one of -._:@+ (or --), separated by /.
const COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const REF_NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);

/**
 * Writes images from the store as an OCI image layout: `oci-layout`, `index.json` (one entry per
 * image, with its ref name) and `blobs/sha256/…` (each blob once however many images share it).
 * A directory target must be absent or empty, and gets `index.json` last, so a reader never sees an
 * index naming blobs not yet written. A stream target gets a tar (metadata first, then the blobs, each
 * streamed from the store) and is ended when the tar is complete.
 */
export async function writeOciLayout(store: ContentStore, images: LayoutImage[], target: LayoutTarget): Promise<WrittenLayout> {
  const { entries, blobs } = await collect(store, images);
  const index = buildIndex(entries);
  if ('dir' in target) await writeDirectory(store, target.dir, blobs, index.bytes);
  else await writeTar(store, target.stream, blobs, index.bytes);
  return { index: index.document, blobs };
}

/** Checks every image is whole in the store before a byte is written, and lists what to write. */
async function collect(store: ContentStore, images: LayoutImage[]): Promise<{ entries: Descriptor[]; blobs: BlobInfo[] }> {
  const blobs = new Map<string, BlobInfo>();
  const entries: Descriptor[] = [];
  for (const image of images) {
    if (image.refName !== undefined && !REF_NAME.test(image.refName)) {
      throw layerInvalid('LAYOUT_INVALID', `"${image.refName}" is not a valid OCI ref name (letters and digits joined by - . _ : @ +, separated by /)`);
    }
    const manifestBytes = await readDocument(store, image.manifestDigest, 'manifest');
    const manifest = parseManifest(manifestBytes);
    await requireBlob(store, manifest.config, 'config');
    for (const [i, layer] of manifest.layers.entries()) await requireBlob(store, layer, `layer ${i}`);
    const config = parseImageConfig(await readDocument(store, manifest.config.digest, 'config'));

    for (const layer of manifest.layers) blobs.set(layer.digest, { digest: layer.digest, size: layer.size });
    blobs.set(manifest.config.digest, { digest: manifest.config.digest, size: manifest.config.size });
    blobs.set(image.manifestDigest, { digest: image.manifestDigest, size: manifestBytes.length });
    entries.push({
      mediaType: manifest.mediaType ?? MediaTypes.ociManifest,
      digest: image.manifestDigest,
      size: manifestBytes.length,
      platform: { architecture: config.architecture, os: config.os, variant: config.variant },
      annotations: image.refName === undefined ? undefined : { [Annotations.refName]: image.refName },
    });
  }
  return { entries, blobs: [...blobs.values()] };
}

async function writeDirectory(store: ContentStore, dir: string, blobs: BlobInfo[], indexBytes: Buffer): Promise<void> {
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw layerInvalid('LAYOUT_INVALID', `${dir} is not empty: an OCI layout is written into a new or empty directory`);
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  for (const blob of blobs) {
    await pipeline(store.read(blob.digest), createWriteStream(join(blobDir, parseDigest(blob.digest).hex), { flags: 'wx', mode: 0o644 }));
  }
  await writeFile(join(dir, 'oci-layout'), OCI_LAYOUT);
  await writeFile(join(dir, 'index.json'), indexBytes);
}

async function writeTar(store: ContentStore, stream: Writable, blobs: BlobInfo[], indexBytes: Buffer): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(pack, stream);
  written.catch(() => undefined); // awaited below; this only keeps a failing destination from being an unhandled rejection meanwhile
  try {
    const file = (name: string, size: number) => ({ name, size, mode: 0o644, mtime: EPOCH, type: 'file' as const });
    const dir = (name: string) => ({ name, mode: 0o755, mtime: EPOCH, type: 'directory' as const });
    // Metadata first: a streaming reader knows what it is reading before the blobs arrive.
    pack.entry(file('oci-layout', OCI_LAYOUT.length), OCI_LAYOUT);
    pack.entry(file('index.json', indexBytes.length), indexBytes);
    pack.entry(dir('blobs/'));
    pack.entry(dir('blobs/sha256/'));
    for (const blob of blobs) {
      await pipeline(store.read(blob.digest), pack.entry(file(`blobs/sha256/${parseDigest(blob.digest).hex}`, blob.size)));
    }
    pack.finalize();
  } catch (error) {
    pack.destroy(error as Error);
    // A destination that failed (a client gone) is the cause; the entry's "premature close" only its echo.
    throw (await written.then(() => undefined, (destinationError: unknown) => destinationError)) ?? error;
  }
  await written;
}
