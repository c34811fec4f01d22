import { MediaTypes, readLayer, type ContentStore, type LayerDigests, type SetuidPolicy } from '@strata/layers';

export interface InspectedLayer extends LayerDigests {
  mediaType: string;
}

/**
 * Reads a stored layer blob through the hardened tar reader to the end: every hostile construct
 * (`..`, links out of the root, devices, duplicates, truncation, a gzip bomb) is refused here, before
 * any event names the layer. Returns its diffID and what it is (gzip or plain).
 */
export async function inspectLayer(
  content: ContentStore,
  digest: string,
  options: { maxUncompressedBytes: number; setuid: SetuidPolicy },
): Promise<InspectedLayer> {
  const reading = readLayer(content.read(digest), options);
  for await (const _entry of reading) {
    // bodies left unread are skipped; the checks run on the headers
  }
  const digests = reading.result();
  return { ...digests, mediaType: digests.gzip ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer };
}
