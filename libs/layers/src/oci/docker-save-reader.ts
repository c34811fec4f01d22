import { z } from 'zod';
import type { ContentStore, PutOptions } from '../content/port.js';
import { layerInvalid } from '../errors.js';
import type { ArchiveFiles } from './archive-files.js';
import { archivePath, digestNamedBy } from './archive-paths.js';
import { buildManifest } from './builders.js';
import { MediaTypes } from './media-types.js';
import type { FoundImage } from './oci-layout-reader.js';
import { parseImageConfig, type Descriptor } from './schemas.js';

/** manifest.json of `docker save` (Docker ≥ 1.10): one entry per image. */
const dockerManifestSchema = z.array(
  z.object({
    Config: z.string().min(1),
    RepoTags: z.array(z.string()).nullable().optional(),
    Layers: z.array(z.string().min(1)),
  }),
);

/**
 * Reads a `docker save` archive through its manifest.json, converting each image to OCI: the config
 * keeps its bytes (so the image id stays the same) under the OCI config media type, each layer tar
 * becomes an `application/vnd.oci.image.layer.v1.tar` (`+gzip` when it is gzip), and a new OCI manifest
 * is put into the store. An image with several RepoTags is found once per tag.
 */
export async function readDockerSave(files: ArchiveFiles, store: ContentStore, lease: PutOptions['lease']): Promise<FoundImage[]> {
  const bytes = await files.readSmall('manifest.json');
  if (!bytes) throw layerInvalid('LAYOUT_INVALID', `${files.description} has no manifest.json`);
  let parsed: z.infer<typeof dockerManifestSchema>;
  try {
    parsed = dockerManifestSchema.parse(JSON.parse(bytes.toString('utf8')));
  } catch (error) {
    throw layerInvalid('LAYOUT_INVALID', `manifest.json of ${files.description} is not a docker save manifest: ${(error as Error).message.slice(0, 300)}`);
  }
  if (parsed.length === 0) throw layerInvalid('LAYOUT_INVALID', `manifest.json of ${files.description} lists no image`);

  const found: FoundImage[] = [];
  for (const image of parsed) {
    const configPath = archivePath(image.Config);
    // Docker names the config by its digest (the image id): hold it to that.
    const config = await files.putBlob(configPath, { digest: digestNamedBy(configPath) });
    parseImageConfig(await store.readBytes(config.digest));
    const layers: Descriptor[] = [];
    for (const layerName of image.Layers) {
      const layerPath = archivePath(layerName);
      const layer = await files.putBlob(layerPath, { digest: digestNamedBy(layerPath) });
      layers.push({ mediaType: (await isGzip(store, layer.digest, layer.size)) ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer, digest: layer.digest, size: layer.size });
    }
    const manifest = buildManifest({ mediaType: MediaTypes.ociConfig, digest: config.digest, size: config.size }, layers);
    const stored = await store.putBytes(manifest.bytes, { expectedDigest: manifest.descriptor.digest, lease });
    const tags = image.RepoTags ?? [];
    if (tags.length === 0) found.push({ manifestDigest: stored.digest });
    for (const tag of tags) found.push({ manifestDigest: stored.digest, refName: tag });
  }
  return found;
}

async function isGzip(store: ContentStore, digest: string, size: number): Promise<boolean> {
  if (size < 2) return false;
  const head: Buffer[] = [];
  for await (const chunk of store.read(digest, { start: 0, end: 1 })) head.push(chunk as Buffer);
  const bytes = Buffer.concat(head);
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}
