/** What the scheduler knows of a node: whether it takes new containers and how full it is. */
export interface PlacementCandidate {
  nodeId: string;
  status: 'ready' | 'draining' | 'left' | 'lost' | 'unknown';
  /** The heartbeat is fresh: a ready node that stopped beating is not chosen even before it is declared lost. */
  alive: boolean;
  capacity: number;
  /** Containers placed there and not removed. */
  containers: number;
}

/**
 * Picks the ready, alive node with the most free capacity; ties go to the fewest containers, then by id
 * (deterministic, so tests and people can predict it). Null when no node can take one more container.
 * Spreading follows: every placement lowers that node's free capacity for the next.
 */
export function pickNode(candidates: PlacementCandidate[]): string | null {
  const eligible = candidates.filter((n) => n.status === 'ready' && n.alive && n.containers < n.capacity);
  eligible.sort((a, b) => b.capacity - b.containers - (a.capacity - a.containers) || a.containers - b.containers || (a.nodeId < b.nodeId ? -1 : 1));
  return eligible[0]?.nodeId ?? null;
}
