import type { CommitRequestData, ContainerCreatedData, ExitReason, FileChange } from './events.js';

/**
 * Container commands. The node performs the side effect (runc, the snapshotter) between checking the
 * state (`assertTransition`) and appending: the event records what really happened.
 */
export type ContainerCommand =
  | { type: 'CreateContainer'; container: ContainerCreatedData }
  | { type: 'StartContainer'; id: string; pid: number; restart: boolean }
  | { type: 'RecordContainerExit'; id: string; exitCode: number; reason: ExitReason; signal: string | null; oomKilled: boolean; error: string | null }
  | { type: 'PauseContainer'; id: string }
  | { type: 'UnpauseContainer'; id: string }
  | { type: 'KillContainer'; id: string; signal: string }
  | { type: 'RenameContainer'; id: string; name: string }
  | { type: 'RecordFilesChanged'; id: string; source: 'api' | 'process'; changes: FileChange[] }
  | ({ type: 'RequestCommit' } & CommitRequestData)
  | { type: 'RecordCommit'; id: string; commitId: string; manifestDigest: string; imageId: string; layerDigest: string; tag: string | null }
  | { type: 'RemoveContainer'; id: string };

export type ContainerCommandType = ContainerCommand['type'];

/** What a user may ask of a container, for checking a transition before its side effect runs. */
export type ContainerAction = 'start' | 'stop' | 'kill' | 'pause' | 'unpause' | 'restart' | 'rename' | 'remove' | 'exec' | 'commit' | 'files';
