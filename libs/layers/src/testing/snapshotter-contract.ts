import { describe } from 'vitest';
import type { Snapshotter } from '../snapshot/port.js';
import { activeSnapshotContract } from './snapshotter-active-contract.js';
import { lifecycleContract } from './snapshotter-lifecycle-contract.js';
import { readingContract } from './snapshotter-reading-contract.js';

export interface SnapshotterUnderTest {
  snapshotter: Snapshotter;
  /** Another instance on the same storage, as after a node restart. */
  reopen(): Promise<Snapshotter>;
  destroy(): Promise<void>;
}

/** Fresh, isolated storage per call. Throw (never skip) when the machine cannot run this snapshotter. */
export type SnapshotterFactory = () => Promise<SnapshotterUnderTest>;

/**
 * What every snapshotter must do, checked through the port only. Layers are built as an unpacker builds
 * them (prepare, write into writable(key).dir in the snapshotter's whiteout style, commit) and always read
 * back through mounts, mounted with withMounted: what a container or an exporter would see.
 */
export function snapshotterContract(name: string, factory: SnapshotterFactory): void {
  describe(`Snapshotter contract: ${name}`, () => {
    readingContract(factory);
    activeSnapshotContract(factory);
    lifecycleContract(factory);
  });
}
