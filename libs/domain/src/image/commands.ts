import type { ImageCreatedData } from './events.js';

export type ImageCommand =
  /**
   * Records an image whose blobs are already in the content store, verified (import, load, commit,
   * pull, push). Creating an image that exists is a no-op: the same manifest digest is the same image.
   */
  | { type: 'CreateImage'; image: ImageCreatedData }
  /**
   * Deletes an image. `tags` and `containers` are what uses it now (the caller looked them up):
   * tags refuse it unless `force` (which untags, like `docker rmi -f`); containers always refuse it,
   * because a container's root filesystem is made of the image's layers.
   */
  | {
      type: 'RemoveImage';
      manifestDigest: string;
      force: boolean;
      tags: string[];
      containers: string[];
      /** Tags `rmi --force` removed just before (recorded in ImageDeleted). */
      untagged?: string[];
    };

export type ImageCommandType = ImageCommand['type'];
