import type { RestartPolicy } from './names.js';
import type { ExitReason } from './events.js';

export type ContainerStatus = 'none' | 'created' | 'running' | 'paused' | 'exited' | 'removed';

export interface ContainerState {
  status: ContainerStatus;
  id: string | null;
  name: string | null;
  nodeId: string | null;
  restartPolicy: RestartPolicy;
  /** Restarts made by the restart policy since the last start a user asked for. */
  restartCount: number;
  lastExit: { exitCode: number; reason: ExitReason } | null;
  /** Commits already recorded (by commitId), so a finished saga step is never recorded twice. */
  commits: readonly string[];
  /** Commits requested and not recorded yet: a restarted node finishes them. */
  pendingCommits: readonly string[];
}

export const initialContainerState = (): ContainerState => ({
  status: 'none',
  id: null,
  name: null,
  nodeId: null,
  restartPolicy: { name: 'no', maximumRetryCount: 0 },
  restartCount: 0,
  lastExit: null,
  commits: [],
  pendingCommits: [],
});
