import { describe, expect, it } from 'vitest';
import { pickNode, type PlacementCandidate } from './scheduler.js';

const node = (nodeId: string, containers: number, extra: Partial<PlacementCandidate> = {}): PlacementCandidate => ({
  nodeId,
  status: 'ready',
  alive: true,
  capacity: 10,
  containers,
  ...extra,
});

describe('pickNode', () => {
  it('takes the node with the most free capacity, and spreads as it fills', () => {
    expect(pickNode([node('a', 3), node('b', 1), node('c', 2)])).toBe('b');
    expect(pickNode([node('a', 3), node('b', 1, { capacity: 2 }), node('c', 2)])).toBe('c');
    const load = { a: 0, b: 0, c: 0 } as Record<string, number>;
    for (let i = 0; i < 9; i++) load[pickNode(Object.entries(load).map(([id, n]) => node(id, n)))!]++;
    expect(load).toEqual({ a: 3, b: 3, c: 3 });
  });

  it('never picks a draining, lost, silent or full node', () => {
    expect(pickNode([node('a', 0, { status: 'draining' }), node('b', 0, { status: 'lost' }), node('c', 0, { alive: false }), node('d', 10)])).toBeNull();
    expect(pickNode([node('a', 0, { status: 'draining' }), node('e', 9)])).toBe('e');
  });
});
