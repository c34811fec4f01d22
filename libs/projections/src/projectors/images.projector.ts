import type { EventEnvelope, ImageEvent } from '@strata/domain';
import type { Projector } from './projector.js';

type ImageEnvelope = Omit<EventEnvelope, 'type' | 'schemaVersion' | 'data'> & ImageEvent;

/** Live images and their layers (tables `images`, `image_layers`). */
export const imagesProjector: Projector = {
  name: 'images',
  version: 1,
  tables: ['images', 'image_layers'],
  apply(envelope, writer) {
    const event = envelope as unknown as ImageEnvelope;
    switch (event.type) {
      case 'ImageCreated':
        writer.createImage(event.data, event.occurredAt, event.actor, event.position);
        return;
      case 'ImageDeleted':
        writer.deleteImage(event.data.manifestDigest);
        return;
    }
  },
};
