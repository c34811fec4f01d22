import type { ContainerState } from '@strata/domain';
import type { Snapshotter } from '@strata/layers';
import type { Runtime } from '@strata/runtime';
import { snapshotKeyOf } from './container-rootfs.js';

const PREFIX = snapshotKeyOf('');

/** What to do with a container's writable layer (and process) found on this node, given the log. */
export type StrandedAction = 'keep' | 'delete' | 'stop-and-delete' | 'stop';

/**
 * The log is the truth; this node's disk and processes follow it. Decided from the container's state
 * in the log alone (pure, so the cases are tested one by one):
 *
 * - never recorded (`none`): a create that died between preparing the layer and recording it;
 * - recorded by another node: a create run twice (a failover taken over) that the other run won;
 * - removed, by a failover while this node was lost: its process may still run here (a node cut off
 *   keeps its containers running); it is stopped, and its layer goes, as `rm -f` would have done;
 * - exited in the log (a failover recorded `node-lost`) while it still runs here: stopped, layer kept
 *   (the container exists; `start` or `rm` decide what next), as if the node had stopped it;
 * - anything else is this node's and consistent: kept. So is a container with a commit still pending
 *   (the commit service finishes it first).
 */
export function strandedAction(state: ContainerState, nodeId: string, processRuns: boolean): StrandedAction {
  if (state.pendingCommits.length > 0) return 'keep';
  if (state.status === 'none') return 'delete';
  if (state.nodeId !== nodeId || state.status === 'removed') return processRuns ? 'stop-and-delete' : 'delete';
  if (state.status === 'exited' || state.status === 'created') return processRuns ? 'stop' : 'keep';
  return 'keep';
}

export interface StrandedDeps {
  snapshotter: Snapshotter;
  runtime: Runtime;
  nodeId: string;
  /** The container's state as the log has it now. */
  state(id: string): Promise<ContainerState>;
  /** Unmounts and deletes the container's directory on this node. */
  removeRootfs(id: string): Promise<void>;
  /** Runs `work` while no other verb runs on the container. */
  serialized<T>(id: string, work: () => Promise<T>): Promise<T>;
  log(entry: Record<string, unknown>): void;
}

/**
 * At start-up: every container layer on this node's disk is checked against the log (strandedAction),
 * so what a crash or a failover left behind does not stay on disk, or running, for ever. Returns what
 * was done, per container id.
 */
export async function sweepStrandedContainers(deps: StrandedDeps): Promise<Map<string, StrandedAction>> {
  const done = new Map<string, StrandedAction>();
  const available = await deps.runtime.available();
  for (const snapshot of await deps.snapshotter.list()) {
    if (snapshot.kind !== 'active' || !snapshot.key.startsWith(PREFIX)) continue;
    const id = snapshot.key.slice(PREFIX.length);
    const action = await deps.serialized(id, async () => {
      const state = await deps.state(id);
      const runs = available.ok && ['running', 'paused'].includes(await deps.runtime.state(id).catch(() => 'unknown'));
      const decided = strandedAction(state, deps.nodeId, runs);
      if (decided === 'stop' || decided === 'stop-and-delete') {
        await deps.runtime.stop(id, 1_000, 'SIGKILL').catch(() => undefined);
      }
      if (decided === 'stop') await deps.runtime.delete(id).catch(() => undefined);
      if (decided === 'delete' || decided === 'stop-and-delete') {
        if (available.ok) await deps.runtime.forget(id).catch(() => undefined);
        await deps.removeRootfs(id);
        await deps.snapshotter.remove(snapshot.key);
      }
      return decided;
    });
    if (action !== 'keep') {
      done.set(id, action);
      deps.log({ msg: 'container on this disk out of step with the log', container: id, action });
    }
  }
  return done;
}
