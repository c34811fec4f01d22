import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { isIndexMediaType, parseIndex, type ContentStore } from '@strata/layers';
import { RepositoryLinks } from '@strata/registry';
import { join } from 'node:path';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { CONTENT_STORE } from '../images/layer-tokens.js';
import { ReadModels } from '../projections/read-models.service.js';

/** The manifest size cap (registry-manifests.service.ts), for reading an index back. */
const MAX_INDEX_BYTES = 4 * 1024 * 1024;

/**
 * Which blobs a repository holds: the manifests its tags point at, their configs and layers, and the
 * blobs uploaded or mounted into it (links, <dataDir>/registry/links). The content store is one pool
 * for the whole node, so without this check anyone allowed to read or push one repository could read
 * any blob of a private one by its digest.
 */
@Injectable()
export class RepositoryContent implements OnModuleInit {
  private opened: RepositoryLinks | null = null;

  constructor(
    private readonly reads: ReadModels,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    @Inject(CONTENT_STORE) private readonly content: ContentStore,
  ) {}

  async onModuleInit(): Promise<void> {
    this.opened = await RepositoryLinks.open(join(this.config.dataDir, 'registry', 'links'));
  }

  get links(): RepositoryLinks {
    if (!this.opened) throw new Error('RepositoryContent used before the module was initialised');
    return this.opened;
  }

  /** Reachable from a tag of the repository (what anonymous readers of a public repository may read). */
  async tagged(name: string, digest: string): Promise<boolean> {
    await this.reads.catchUpToHead();
    const model = this.reads.engine;
    const uses = async (manifestDigest: string): Promise<boolean> => {
      if (manifestDigest === digest) return true;
      const image = await model.getImage(manifestDigest);
      if (!image) return false;
      if (image.imageId === digest || image.layers.some((layer) => layer.digest === digest)) return true;
      // An index (multi-platform): its record describes one platform; every platform's manifest counts.
      if (!isIndexMediaType(image.manifestMediaType)) return false;
      const index = parseIndex(await this.content.readBytes(manifestDigest, MAX_INDEX_BYTES));
      for (const entry of index.manifests) if (!isIndexMediaType(entry.mediaType) && (await uses(entry.digest))) return true;
      return false;
    };
    for (const tag of await model.listTags(name)) if (await uses(tag.digest)) return true;
    return false;
  }

  /** Tagged, or uploaded/mounted/pushed into the repository. */
  async holds(name: string, digest: string): Promise<boolean> {
    return (await this.links.has(name, digest)) || (await this.tagged(name, digest));
  }
}
