import { Inject, Injectable } from '@nestjs/common';
import type { ImageView } from '@strata/api';
import type { CommandMeta, ConfigChange } from '@strata/domain';
import {
  buildManifest,
  ContentLeases,
  newImageConfig,
  parseImageConfig,
  parseManifest,
  resolveImage,
  serializeImageConfig,
  withLayer,
  type ContentStore,
} from '@strata/layers';
import { CommandSteps } from '../commands/command-steps.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { imageRecord } from '../images/image-record.js';
import { CONTENT_STORE } from '../images/layer-tokens.js';
import { ReadModels } from '../projections/read-models.service.js';
import { configChanges } from './build-config.js';

/**
 * The images a build makes without a container: a config-only step (ENV, CMD, EXPOSE…) is the parent's
 * layers under a new config whose history gains an `empty_layer` entry; `FROM scratch` is an image
 * with no layers at all. Blobs first, then CreateImage (origin `build`).
 */
@Injectable()
export class BuildImages {
  constructor(
    private readonly steps: CommandSteps,
    private readonly reads: ReadModels,
    private readonly leases: ContentLeases,
    @Inject(CONTENT_STORE) private readonly content: ContentStore,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  async configStep(parent: ImageView, createdBy: string, change: ConfigChange, meta: CommandMeta, source: string): Promise<ImageView> {
    const manifest = parseManifest(await this.content.readBytes(parent.manifestDigest));
    const parentConfig = parseImageConfig(await this.content.readBytes(manifest.config.digest));
    const config = withLayer(parentConfig, null, { created: meta.occurredAt, created_by: createdBy }, configChanges(parentConfig.config ?? {}, change));
    return this.record(config, manifest.layers, meta, parent.manifestDigest, source);
  }

  /** The empty image `FROM scratch` starts from: the same bytes every time, so the same digest. */
  async scratch(meta: CommandMeta): Promise<ImageView> {
    const config = newImageConfig({ diffIds: [], created: '1970-01-01T00:00:00.000Z', history: [], config: {} });
    return this.record(config, [], meta, null, 'scratch');
  }

  private async record(
    config: Parameters<typeof serializeImageConfig>[0],
    layers: ReturnType<typeof parseManifest>['layers'],
    meta: CommandMeta,
    parent: string | null,
    source: string,
  ): Promise<ImageView> {
    const lease = this.leases.acquire();
    try {
      const configDoc = serializeImageConfig(config);
      await this.content.putBytes(configDoc.bytes, { expectedDigest: configDoc.descriptor.digest, lease });
      const manifest = buildManifest(configDoc.descriptor, layers);
      await this.content.putBytes(manifest.bytes, { expectedDigest: manifest.descriptor.digest, lease });
      const image = await resolveImage(this.content, manifest.descriptor.digest, { maxUncompressedBytes: this.config.maxLayerBytes });
      const reply = await this.steps.run(meta, 'image', 'CreateImage', { image: imageRecord(image, 'build', { parent, source }) });
      const { value } = await this.reads.read({ minPosition: String(reply.position) }, (m) => m.getImage(image.manifestDigest));
      return value!;
    } finally {
      lease.release();
    }
  }
}
