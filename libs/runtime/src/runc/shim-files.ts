import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExitReasonSeen } from '../port.js';

/**
 * The files a shim and the node share in a container's state directory: the whole protocol between
 * them (besides runc itself), so a node that restarts re-attaches by reading them.
 */
export const SHIM_FILES = {
  /** `ShimRecord`: written by the shim at its start, again once the container has a pid. */
  shim: 'shim.json',
  /** `ExitRecord`: written once, last, when the container has ended and runc has forgotten it. */
  exit: 'exit.json',
  /** One `{t, s, l}` JSON object per line of output; appended across restarts of the container. */
  log: 'log.ndjson',
  /** The shim's own stderr (its crashes); the node reads it only to explain a shim that died at once. */
  shimLog: 'shim.log',
  /** Written by runc (`--pid-file`), read by the shim. */
  containerPid: 'container.pid',
  /** runc's own log (`--log`, JSON): why a start failed. */
  runcLog: 'runc.log',
  bundle: 'bundle',
} as const;

export interface ShimRecord {
  /** The shim's pid and start time (clock ticks since boot): both must match for it to be alive. */
  shim: { pid: number; startTime: string };
  runcPid: number | null;
  containerPid: number | null;
  startedAt: string | null;
  memoryCgroup: string | null;
}

export interface ExitRecord {
  exitCode: number;
  signal: string | null;
  oomKilled: boolean;
  finishedAt: string;
  reason: ExitReasonSeen;
  error: string | null;
}

/** A JSON file the shim wrote, or undefined while there is none (the shim renames whole files into place). */
export async function readShimFile<T>(stateDir: string, name: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, name), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `record` still runs: its pid alone could be reused after a reboot. */
export async function shimAlive(record: ShimRecord | undefined): Promise<boolean> {
  if (!record) return false;
  try {
    const stat = await readFile(`/proc/${record.shim.pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return state[19] === record.shim.startTime && state[0] !== 'Z';
  } catch {
    return false;
  }
}
