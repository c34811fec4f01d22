import type { RestartPolicy } from './names.js';

export const CONTAINER_SCHEMA = {
  ContainerCreated: 1,
  ContainerStarted: 1,
  ContainerExited: 1,
  ContainerPaused: 1,
  ContainerUnpaused: 1,
  ContainerSignalled: 1,
  ContainerRenamed: 1,
  ContainerFilesChanged: 1,
  ContainerCommitRequested: 1,
  ContainerCommitted: 1,
  ContainerRemoved: 1,
} as const;

/** What the container runs: the image's config with the user's overrides applied (Docker's merge). */
export interface ContainerRunConfig {
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];
  workingDir: string;
  user: string;
  labels: Record<string, string>;
  hostname: string;
  stopSignal: string;
  stopTimeoutSeconds: number;
}

export interface ContainerCreatedData {
  id: string;
  name: string;
  image: { manifestDigest: string; imageId: string; reference: string; topChainId: string | null };
  config: ContainerRunConfig;
  restartPolicy: RestartPolicy;
  /** The node that owns the container's writable layer and process. */
  nodeId: string;
  snapshotter: 'overlay' | 'native';
}

/** `node-lost`: the node that ran it stopped answering and was declared lost by another (issue 9). */
export type ExitReason = 'completed' | 'stopped' | 'killed' | 'oom' | 'node-restart' | 'node-lost' | 'error';
export const EXIT_REASONS: readonly ExitReason[] = ['completed', 'stopped', 'killed', 'oom', 'node-restart', 'node-lost', 'error'];

/** One changed path of the writable layer. Contents live in the content store; only digests are here. */
export interface FileChange {
  path: string;
  kind: 'A' | 'C' | 'D';
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'other' | null;
  size: number | null;
  /** sha256 of a regular file's new content (null for D, directories, links). */
  digest: string | null;
  mode: number | null;
}

export type ContainerEvent =
  | { type: 'ContainerCreated'; schemaVersion: 1; data: ContainerCreatedData }
  | { type: 'ContainerStarted'; schemaVersion: 1; data: { id: string; pid: number; restartCount: number } }
  | {
      type: 'ContainerExited';
      schemaVersion: 1;
      data: { id: string; exitCode: number; reason: ExitReason; signal: string | null; oomKilled: boolean; error: string | null };
    }
  | { type: 'ContainerPaused'; schemaVersion: 1; data: { id: string } }
  | { type: 'ContainerUnpaused'; schemaVersion: 1; data: { id: string } }
  | { type: 'ContainerSignalled'; schemaVersion: 1; data: { id: string; signal: string } }
  | { type: 'ContainerRenamed'; schemaVersion: 1; data: { id: string; from: string; to: string } }
  | { type: 'ContainerFilesChanged'; schemaVersion: 1; data: { id: string; source: 'api' | 'process'; changes: FileChange[] } }
  | { type: 'ContainerCommitRequested'; schemaVersion: 1; data: CommitRequestData }
  | {
      type: 'ContainerCommitted';
      schemaVersion: 1;
      data: { id: string; commitId: string; manifestDigest: string; imageId: string; layerDigest: string; tag: string | null };
    }
  | { type: 'ContainerRemoved'; schemaVersion: 1; data: { id: string; name: string } };

/**
 * A commit's intent, recorded once its layer is safely in the content store: everything needed to
 * finish it (the image, the tag, the record) without the container, so a node that dies half-way
 * finishes it on restart, exactly once (every later step's id derives from `commitId`).
 */
export interface CommitRequestData {
  id: string;
  commitId: string;
  layerDigest: string;
  layerSize: number;
  tag: string | null;
  author: string | null;
  message: string | null;
  changes: string[];
  createdBy: string;
  created: string;
}

export type ContainerEventType = ContainerEvent['type'];
export const CONTAINER_EVENT_TYPES = Object.keys(CONTAINER_SCHEMA) as ContainerEventType[];
