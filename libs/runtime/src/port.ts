/**
 * The Runtime port: running a container's process, like containerd's task service. Knows nothing of
 * the event log; the node records what it reports.
 */
export interface ProcessSpec {
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids?: number[] };
}

export interface ContainerSpec {
  id: string;
  /** An already mounted (or plain) root filesystem directory. */
  rootfs: string;
  process: ProcessSpec;
  hostname?: string;
  readonlyRootfs?: boolean;
  memoryLimitBytes?: number;
  pidsLimit?: number;
}

export type ExitReasonSeen = 'completed' | 'killed' | 'oom' | 'error';

export interface ExitStatus {
  /** As Docker reports it: the process's code, or 128 + the signal that killed it. */
  exitCode: number;
  signal: string | null;
  oomKilled: boolean;
  finishedAt: string;
  reason: ExitReasonSeen;
}

export interface LogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  line: string;
}

export type ReconciledState = { state: 'running' | 'paused' } | { state: 'exited'; status: ExitStatus } | { state: 'gone' };

export interface Runtime {
  readonly name: 'runc';
  /** Whether containers can run here, and if not, what to do about it. */
  available(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Starts the process under a supervisor that outlives the node; logs are captured with timestamps. */
  start(spec: ContainerSpec): Promise<{ pid: number }>;
  kill(id: string, signal: string): Promise<void>;
  /** SIGTERM (or the given signal), then SIGKILL after the timeout; resolves with the exit. */
  stop(id: string, timeoutMs: number, signal?: string): Promise<ExitStatus>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Resolves when the process has exited (also for a process started by an earlier node). */
  wait(id: string): Promise<ExitStatus>;
  state(id: string): Promise<'running' | 'paused' | 'stopped' | 'unknown'>;
  exec(id: string, process: ProcessSpec): Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }>;
  top(id: string): Promise<{ titles: string[]; processes: string[][] }>;
  /** Forgets a stopped container (its runtime state; not its logs). */
  delete(id: string): Promise<void>;
  /** Forgets everything of a container, its logs too (`rm`). */
  forget(id: string): Promise<void>;
  /** Ends every wait and follow: the node is going down (the containers run on). */
  close(): void;
  logs(id: string, options: { since?: string; tail?: number; follow?: boolean; signal?: AbortSignal }): AsyncIterable<LogLine>;
  /** After a node restart: what became of each container the log says was running. */
  reconcile(ids: string[]): Promise<Map<string, ReconciledState>>;
}
