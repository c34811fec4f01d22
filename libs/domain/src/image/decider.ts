import type { Decider } from '../shared/decider.js';
import { assertDigest } from '../shared/digest.js';
import { conflict, invalid, notFound } from '../shared/errors.js';
import type { ImageCommand } from './commands.js';
import { IMAGE_ORIGINS, type ImageCreatedData, type ImageEvent } from './events.js';
import { initialImageState, type ImageState } from './state.js';

export const IMAGE_CATEGORY = 'image';

/**
 * An image's stream is keyed by its manifest digest (hex only: stream ids end up in NATS subjects,
 * where ':' is legal but noisy). The manifest digest, not the config digest, is what tags and
 * registries point at; the image id (config digest) is an attribute, as in containerd.
 */
export const imageStreamId = (manifestDigest: string) => `${IMAGE_CATEGORY}-${assertDigest(manifestDigest).slice('sha256:'.length)}`;

function validateImage(image: ImageCreatedData): ImageCreatedData {
  assertDigest(image.manifestDigest, 'manifestDigest');
  assertDigest(image.imageId, 'imageId');
  if (image.parent !== null) assertDigest(image.parent, 'parent');
  if (!IMAGE_ORIGINS.includes(image.origin)) {
    throw invalid('INVALID_IMAGE', `origin must be one of ${IMAGE_ORIGINS.join(', ')}`, { origin: image.origin });
  }
  if (image.chainIds.length !== image.layers.length) {
    throw invalid('INVALID_IMAGE', 'an image needs one chainID per layer', { layers: image.layers.length, chainIds: image.chainIds.length });
  }
  image.layers.forEach((layer, i) => {
    assertDigest(layer.digest, `layers[${i}].digest`);
    assertDigest(layer.diffId, `layers[${i}].diffId`);
    assertDigest(image.chainIds[i], `chainIds[${i}]`);
    if (!Number.isSafeInteger(layer.size) || layer.size < 0) throw invalid('INVALID_IMAGE', `layers[${i}].size must be a byte count`);
  });
  return image;
}

export function decideImage(command: ImageCommand, state: ImageState): ImageEvent[] {
  switch (command.type) {
    case 'CreateImage': {
      const image = validateImage(command.image);
      if (state.status === 'active') return []; // the same manifest digest is the same image: nothing new
      return [{ type: 'ImageCreated', schemaVersion: 1, data: image }];
    }
    case 'RemoveImage': {
      const manifestDigest = assertDigest(command.manifestDigest);
      if (state.status !== 'active') {
        throw notFound('IMAGE_NOT_FOUND', `image ${manifestDigest} does not exist`, { manifestDigest });
      }
      if (command.containers.length > 0) {
        throw conflict(
          'IMAGE_IN_USE_BY_CONTAINER',
          `image ${state.imageId} is used by container(s) ${command.containers.slice(0, 5).join(', ')}: remove them first`,
          { manifestDigest, containers: command.containers },
        );
      }
      if (command.tags.length > 0 && !command.force) {
        throw conflict(
          'IMAGE_IN_USE',
          `image ${state.imageId} is tagged as ${command.tags.slice(0, 5).join(', ')}: untag it, or remove it with force`,
          { manifestDigest, tags: command.tags },
        );
      }
      return [{ type: 'ImageDeleted', schemaVersion: 1, data: { manifestDigest, imageId: state.imageId!, untagged: [...(command.untagged ?? []), ...command.tags] } }];
    }
  }
}

export function evolveImage(state: ImageState, event: ImageEvent): ImageState {
  switch (event.type) {
    case 'ImageCreated':
      return { status: 'active', manifestDigest: event.data.manifestDigest, imageId: event.data.imageId };
    case 'ImageDeleted':
      return { ...state, status: 'deleted' };
    default:
      return state;
  }
}

export const imageDecider: Decider<ImageState, ImageCommand, ImageEvent> = {
  category: IMAGE_CATEGORY,
  initialState: initialImageState,
  decide: decideImage,
  evolve: evolveImage,
};
