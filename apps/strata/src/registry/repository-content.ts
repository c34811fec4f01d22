import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { RepositoryLinks } from '@strata/registry';
import { join } from 'node:path';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ReadModels } from '../projections/read-models.service.js';

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
    for (const tag of await model.listTags(name)) {
      if (tag.digest === digest) return true;
      const image = await model.getImage(tag.digest);
      if (image && (image.imageId === digest || image.layers.some((layer) => layer.digest === digest))) return true;
    }
    return false;
  }

  /** Tagged, or uploaded/mounted/pushed into the repository. */
  async holds(name: string, digest: string): Promise<boolean> {
    return (await this.links.has(name, digest)) || (await this.tagged(name, digest));
  }
}
