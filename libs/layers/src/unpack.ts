import { randomUUID } from 'node:crypto';
import type { ContentStore } from './content/port.js';
import type { Snapshotter } from './snapshot/port.js';
import { applyLayer } from './tar/apply-layer.js';
import type { SetuidPolicy } from './tar/layer-entry.js';
import { layerInvalid } from './errors.js';

export interface UnpackLayer {
  digest: string;
  diffId: string;
  chainId: string;
}

export interface UnpackOptions {
  maxUncompressedBytes?: number;
  setuid?: SetuidPolicy;
  onLayer?: (layer: UnpackLayer, index: number, reused: boolean) => void;
}

/**
 * Makes an image's layers committed snapshots keyed by chainID, bottom up, as containerd's unpacker
 * does: for each layer not yet there, prepare a writable snapshot on the parent chain, apply the layer
 * blob into it, check its diffID, commit it under its chainID. A layer that fails is thrown away whole
 * (its snapshot removed): no half-unpacked layer is ever committed. Layers already unpacked (another
 * image shares them) are reused. Returns the top chainID: the parent for a container's snapshot.
 */
export async function unpackImage(content: ContentStore, snapshotter: Snapshotter, layers: UnpackLayer[], options: UnpackOptions = {}): Promise<string | undefined> {
  let parent: string | undefined;
  for (const [index, layer] of layers.entries()) {
    if (await snapshotter.stat(layer.chainId)) {
      options.onLayer?.(layer, index, true);
      parent = layer.chainId;
      continue;
    }
    const key = `extract-${randomUUID()} ${layer.chainId}`;
    await snapshotter.prepare(key, parent);
    try {
      const { dir, style } = await snapshotter.writable(key);
      const lowerDirs = style === 'overlay' ? lowerDirsOf(await snapshotter.mounts(key)) : undefined;
      const digests = await applyLayer(content.read(layer.digest), dir, {
        style,
        lowerDirs,
        maxUncompressedBytes: options.maxUncompressedBytes,
        setuid: options.setuid,
      });
      if (digests.diffId !== layer.diffId) {
        throw layerInvalid('DIFF_ID_MISMATCH', `layer ${layer.digest} unpacks to ${digests.diffId}, not its diffID ${layer.diffId}`);
      }
      await snapshotter.commit(layer.chainId, key);
    } catch (error) {
      await snapshotter.remove(key).catch(() => undefined);
      // Another unpack of the same layer may have won the race: its commit is as good as ours.
      if (await snapshotter.stat(layer.chainId)) {
        parent = layer.chainId;
        continue;
      }
      throw error;
    }
    options.onLayer?.(layer, index, false);
    parent = layer.chainId;
  }
  return parent;
}

/** The lowerdir list of an overlay mount, top first (where hard link targets of a layer may live). */
function lowerDirsOf(mounts: { type: string; options: string[] }[]): string[] {
  const option = mounts.find((m) => m.type === 'overlay')?.options.find((o) => o.startsWith('lowerdir='));
  return option ? option.slice('lowerdir='.length).split(':') : [];
}
