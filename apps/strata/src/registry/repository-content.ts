import { Injectable } from '@nestjs/common';
import { ReadModels } from '../projections/read-models.service.js';

/**
 * Which blobs a repository holds: the manifests its tags point at, their configs and layers. The
 * content store is one pool for the whole node, so without this check anyone allowed to read one
 * public repository could read any blob of a private one by its digest.
 */
@Injectable()
export class RepositoryContent {
  constructor(private readonly reads: ReadModels) {}

  async holds(name: string, digest: string): Promise<boolean> {
    await this.reads.catchUpToHead();
    const model = this.reads.engine;
    for (const tag of await model.listTags(name)) {
      if (tag.digest === digest) return true;
      const image = await model.getImage(tag.digest);
      if (image && (image.imageId === digest || image.layers.some((layer) => layer.digest === digest))) return true;
    }
    return false;
  }
}
