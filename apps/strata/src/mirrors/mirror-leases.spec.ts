import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../../../libs/eventstore/src/testing/nats-server.js';
import { MirrorLeases } from './mirror-leases.js';

const TTL_MS = 1_500;
const HEARTBEAT_MS = 200;

/** One node's leases, driven by hand (poke) rather than by its timer: what it gained and lost, in order. */
async function node(nc: NatsConnection, nodeId: string, mirrors: Array<{ id: string; credentials: boolean }>) {
  const events: string[] = [];
  const leases = await MirrorLeases.open(nc, {
    nodeId,
    ttlMs: TTL_MS,
    heartbeatMs: HEARTBEAT_MS,
    replicas: 1,
    wanted: () => mirrors,
    gained: (id) => events.push(`gained ${id}`),
    lost: (id, why) => events.push(`lost ${id}: ${why}`),
    log: () => undefined,
  });
  return { leases, events, mirrors };
}

describe('mirror leases (a real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('one holder; a release hands it over at the next round; a holder that stops renewing loses it after the TTL', async () => {
    const a = await node(nc, 'node-a', [{ id: 'm1', credentials: true }]);
    const b = await node(nc, 'node-b', [{ id: 'm1', credentials: true }]);
    await Promise.all([a.leases.poke(), b.leases.poke()]);
    const holders = [a, b].filter((n) => n.leases.holds('m1'));
    expect(holders).toHaveLength(1);
    const [holder, other] = holders[0] === a ? [a, b] : [b, a];
    const holderId = holder === a ? 'node-a' : 'node-b';
    await other.leases.poke();
    expect([other.leases.holds('m1'), other.leases.runner('m1'), holder.leases.runner('m1')]).toEqual([false, holderId, holderId]);
    // Renewals keep it.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, HEARTBEAT_MS));
      await Promise.all([holder.leases.poke(), other.leases.poke()]);
    }
    expect([holder.leases.holds('m1'), other.leases.holds('m1')]).toEqual([true, false]);

    // A clean release: the other takes it at its next round, no TTL to wait for.
    await holder.leases.release('m1');
    await other.leases.poke();
    expect(other.leases.holds('m1')).toBe(true);
    expect(other.events).toEqual(['gained m1']);

    // The holder goes silent: until the TTL the key stays; after it, the first node takes it back.
    const silentAt = Date.now();
    await holder.leases.poke();
    expect(holder.leases.holds('m1')).toBe(false);
    let takenAt = 0;
    while (!holder.leases.holds('m1')) {
      if (Date.now() - silentAt > TTL_MS * 4) throw new Error('the lapsed lease was not taken');
      await new Promise((r) => setTimeout(r, 100));
      await holder.leases.poke();
      takenAt = Date.now();
    }
    expect(takenAt - silentAt).toBeGreaterThanOrEqual(TTL_MS - HEARTBEAT_MS);
    // The silent node, at its next round, stops before anything else (its lease was not renewed for a TTL).
    await other.leases.poke();
    expect(other.events).toEqual(['gained m1', 'lost m1: lease not renewed in time']);
    expect(other.leases.runner('m1')).toBe(null);
    await other.leases.poke();
    expect(other.leases.runner('m1')).toBe(holderId);
    await Promise.all([a.leases.stop(), b.leases.stop()]);
    await Promise.all([a.leases.releaseAll(), b.leases.releaseAll()]);
  });

  it('a node with the mirror credentials takes it from one without; never the other way round', async () => {
    const anonymous = await node(nc, 'node-anon', [{ id: 'm2', credentials: false }]);
    const keeper = await node(nc, 'node-keeper', [{ id: 'm2', credentials: true }]);
    await anonymous.leases.poke();
    expect(anonymous.leases.holds('m2')).toBe(true);
    await keeper.leases.poke();
    expect(keeper.leases.holds('m2')).toBe(true);
    await anonymous.leases.poke();
    expect(anonymous.leases.holds('m2')).toBe(false);
    expect(anonymous.events).toEqual(['gained m2', 'lost m2: lease taken by another node']);
    await anonymous.leases.poke();
    await keeper.leases.poke();
    expect([anonymous.leases.runner('m2'), keeper.leases.runner('m2')]).toEqual(['node-keeper', 'node-keeper']);
    // A removed mirror (no longer wanted) gives its lease up at the next round.
    keeper.mirrors.length = 0;
    await keeper.leases.poke();
    await anonymous.leases.poke();
    expect(anonymous.leases.holds('m2')).toBe(true);
    await Promise.all([anonymous.leases.stop(), keeper.leases.stop()]);
    await Promise.all([anonymous.leases.releaseAll(), keeper.leases.releaseAll()]);
  });
});
