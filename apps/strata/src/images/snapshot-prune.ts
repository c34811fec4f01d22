import type { Snapshotter } from '@strata/layers';

/**
 * Removes unpacked layers no live image needs: committed snapshots keyed by a chainID no image has any
 * more (and their `init-` layers), and leftovers of unpacks or inits a crash cut short. A snapshot
 * with children is kept (the snapshotter refuses it anyway); removing a child can free its parent, so it
 * sweeps again until nothing more goes (bounded by the number of snapshots). Containers' own writable
 * layers are never touched: they go with `rm`.
 */
export async function pruneSnapshots(snapshotter: Snapshotter, liveChainIds: Set<string>, dryRun: boolean): Promise<number> {
  const isLive = (key: string) => liveChainIds.has(key.startsWith('init-') ? key.slice('init-'.length) : key);
  const leftover = (key: string) => key.startsWith('extract-') || key.startsWith('init-tmp-');
  let removed = 0;
  const all = await snapshotter.list();
  for (let round = 0; round <= all.length; round++) {
    const snapshots = await snapshotter.list();
    const parents = new Set(snapshots.map((s) => s.parent).filter((p): p is string => p !== undefined));
    const doomed = snapshots.filter(
      (s) => !parents.has(s.key) && ((s.kind === 'committed' && !isLive(s.key)) || (s.kind !== 'committed' && leftover(s.key))),
    );
    if (doomed.length === 0 || dryRun) return removed + (dryRun ? doomed.length : 0);
    for (const s of doomed) {
      await snapshotter.remove(s.key);
      removed++;
    }
  }
  return removed;
}
