import type { ContainerRunConfigView, ContainerView, FileChangeView } from '@strata/api';

export interface ContainerRow {
  id: string;
  name: string;
  image_digest: string;
  image_id: string;
  image_ref: string;
  status: string;
  exit_code: number | null;
  exit_reason: string | null;
  restart_count: number;
  restart_policy: string;
  node_id: string;
  snapshotter: string;
  config: string;
  created_at: string;
  created_by: string;
  started_at: string | null;
  finished_at: string | null;
  position: number;
}

export interface FileChangeRow {
  position: number;
  idx: number;
  container_id: string;
  path: string;
  kind: string;
  type: string | null;
  size: number | null;
  digest: string | null;
  mode: number | null;
  source: string;
  at: string;
  actor: string;
}

export const toContainerView = (r: ContainerRow): ContainerView => ({
  id: r.id,
  name: r.name,
  image: { manifestDigest: r.image_digest, imageId: r.image_id, reference: r.image_ref },
  status: r.status as ContainerView['status'],
  exitCode: r.exit_code,
  exitReason: r.exit_reason as ContainerView['exitReason'],
  restartCount: r.restart_count,
  restartPolicy: r.restart_policy,
  nodeId: r.node_id,
  snapshotter: r.snapshotter as ContainerView['snapshotter'],
  config: JSON.parse(r.config) as ContainerRunConfigView,
  createdAt: r.created_at,
  createdBy: r.created_by,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  position: r.position,
});

export const toFileChangeView = (r: FileChangeRow): FileChangeView => ({
  position: r.position,
  at: r.at,
  actor: r.actor,
  source: r.source as FileChangeView['source'],
  path: r.path,
  kind: r.kind as FileChangeView['kind'],
  type: r.type,
  size: r.size,
  digest: r.digest,
  mode: r.mode,
});
