import { Injectable } from '@nestjs/common';
import type { ImageView } from '@strata/api';
import { conflict, notFound, parseImageReference } from '@strata/domain';
import type { ReadModel } from '@strata/projections';
import { ReadModels } from '../projections/read-models.service.js';

/**
 * Finds the image a user means, the way Docker does: `repo:tag`, `repo@digest`, a manifest digest, an
 * image id, or a unique id prefix. Reads the projections (waiting for them to catch up with the log's
 * head first, so an image imported a moment ago is found).
 */
@Injectable()
export class ImageResolver {
  constructor(private readonly reads: ReadModels) {}

  async resolve(reference: string): Promise<ImageView> {
    await this.reads.catchUpToHead();
    return resolveIn(this.reads.engine, reference);
  }
}

export async function resolveIn(model: ReadModel, reference: string): Promise<ImageView> {
  const ref = parseImageReference(reference);
  const missing = () => notFound('IMAGE_NOT_FOUND', `no such image: ${reference}`, { reference });
  switch (ref.kind) {
    case 'tag': {
      const tag = (await model.listTags(ref.repository)).find((t) => t.tag === ref.tag);
      const image = tag ? await model.getImage(tag.digest) : null;
      if (!image) throw missing();
      return image;
    }
    case 'digest': {
      const byManifest = await model.getImage(ref.digest);
      const image = byManifest ?? (await model.findImagesByPrefix(ref.digest.slice('sha256:'.length)))[0];
      if (!image) throw missing();
      if (ref.repository && !image.tags.some((t) => t.startsWith(`${ref.repository}:`))) {
        // `repo@digest` names the image only if the repository holds it, as a registry would answer.
        throw missing();
      }
      return image;
    }
    case 'id-prefix': {
      const found = await model.findImagesByPrefix(ref.prefix);
      const byId = found.filter((i) => i.imageId.startsWith(`sha256:${ref.prefix}`));
      const matches = byId.length > 0 ? byId : found;
      const ids = new Set(matches.map((i) => i.manifestDigest));
      if (ids.size === 1) return matches[0];
      if (ids.size > 1) {
        throw conflict('AMBIGUOUS_IMAGE_REFERENCE', `"${reference}" matches ${ids.size} images: give more digits`, { reference, matches: [...ids] });
      }
      // A hex-looking name may still be a repository ("cafe1234cafe"): try it as repo:latest.
      try {
        return await resolveIn(model, `${ref.prefix}:latest`);
      } catch {
        throw missing();
      }
    }
  }
}
