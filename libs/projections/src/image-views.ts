import type { ImageHistoryView, ImageLayerView, ImageRunConfigView, ImageView } from '@strata/api';

export interface ImageRow {
  manifest_digest: string;
  image_id: string;
  manifest_media_type: string;
  size: number;
  created: string | null;
  author: string | null;
  architecture: string;
  os: string;
  origin: string;
  parent: string | null;
  source: string | null;
  config: string;
  history: string;
  recorded_at: string;
  recorded_by: string;
  position: number;
}

export interface ImageLayerRow {
  manifest_digest: string;
  idx: number;
  digest: string;
  diff_id: string;
  chain_id: string;
  size: number;
  media_type: string;
}

interface StoredHistory {
  created: string | null;
  createdBy: string | null;
  author: string | null;
  comment: string | null;
  emptyLayer: boolean;
}

/**
 * `docker history` rows: each history entry that is not an empty layer belongs to the next layer, in
 * order. An image without history (an import of a bare tar) gets one anonymous row per layer.
 */
export function historyRows(history: StoredHistory[], layers: ImageLayerView[]): ImageHistoryView[] {
  if (history.length === 0) {
    return layers.map((l) => ({ created: null, createdBy: null, author: null, comment: null, emptyLayer: false, layerDigest: l.digest, size: l.size }));
  }
  let next = 0;
  return history.map((h) => {
    const layer = h.emptyLayer ? undefined : layers[next++];
    return { ...h, layerDigest: layer?.digest ?? null, size: layer?.size ?? 0 };
  });
}

export function toImageView(row: ImageRow, layerRows: ImageLayerRow[], tags: string[]): ImageView {
  const layers: ImageLayerView[] = layerRows.map((l) => ({ digest: l.digest, diffId: l.diff_id, chainId: l.chain_id, size: l.size, mediaType: l.media_type }));
  return {
    manifestDigest: row.manifest_digest,
    imageId: row.image_id,
    manifestMediaType: row.manifest_media_type,
    tags,
    size: row.size,
    created: row.created,
    author: row.author,
    architecture: row.architecture,
    os: row.os,
    origin: row.origin as ImageView['origin'],
    parent: row.parent,
    source: row.source,
    layers,
    history: historyRows(JSON.parse(row.history) as StoredHistory[], layers),
    config: JSON.parse(row.config) as ImageRunConfigView,
    recordedAt: row.recorded_at,
    recordedBy: row.recorded_by,
    position: row.position,
  };
}
