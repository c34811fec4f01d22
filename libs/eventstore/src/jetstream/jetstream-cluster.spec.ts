import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { factoryFromConfig } from '../testing/config-factory.js';
import { anEvent, command, readWholeLog } from '../testing/contract-fixtures.js';
import { eventStoreContract } from '../testing/event-store-contract.js';
import { natsServerConfig, startNatsCluster, type NatsClusterHandle } from '../testing/nats-cluster.js';
import { JetStreamEventStore } from './jetstream-event-store.js';

// One three-server JetStream cluster (routes on loopback) for the whole file; every test its own
// streams (replicas 3) and subjects, deleted afterwards.
let cluster: NatsClusterHandle | undefined;
let starting: Promise<NatsClusterHandle> | undefined;
const nats = () => (starting ??= startNatsCluster({ size: 3 }).then((c) => (cluster = c)));
let counter = 0;

afterAll(async () => {
  await cluster?.stop();
}, 30_000);

async function deleteStreams(url: string, stream: string): Promise<void> {
  const nc = await connect({ servers: url.split(','), timeout: 5000 });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of [stream, `${stream}_COMMANDS`]) await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}

eventStoreContract(
  'jetstream, three-server cluster, replicas 3',
  factoryFromConfig(async () => {
    const { urls } = await nats();
    counter += 1;
    const stream = `STRATA_R3_${counter}`;
    const subjectRoot = `r3t${counter}`;
    return {
      config: { kind: 'jetstream', url: urls, stream, subjectRoot, replicas: 3 },
      destroy: () => deleteStreams(urls, stream),
    };
  }),
);

describe('nats-server cluster harness', () => {
  it('writes one config per server: a unique server_name, its store, and routes to every cluster listener', () => {
    const config = natsServerConfig({
      serverName: 'nats-2',
      host: '127.0.0.1',
      port: 4223,
      httpPort: 8223,
      storeDir: '/tmp/s2',
      clusterName: 'strata',
      clusterHost: '127.0.0.1',
      clusterPort: 6223,
      routes: ['127.0.0.1:6222', '127.0.0.1:6223', '127.0.0.1:6224'],
    });
    expect(config).toContain('server_name: "nats-2"');
    expect(config).toContain('listen: "127.0.0.1:4223"');
    expect(config).toMatch(/jetstream \{\n {2}store_dir: "\/tmp\/s2"\n\}/);
    expect(config).toMatch(/cluster \{\n {2}name: "strata"\n {2}listen: "127.0.0.1:6223"/);
    expect(config).toContain('"nats-route://127.0.0.1:6224"');
  });

  it('forms a cluster with an elected meta leader, and a stream with replicas 3 has a leader and two replicas', async () => {
    const c = await nats();
    expect(c.servers).toHaveLength(3);
    expect(c.urls.split(',')).toHaveLength(3);
    expect(new Set(c.servers.map((s) => s.name)).size).toBe(3);
    expect(c.servers.map((s) => s.name)).toContain(await c.metaLeader());
    const at = { url: c.urls, stream: 'STRATA_R3_INFO', subjectRoot: 'r3info', replicas: 3 };
    const store = await JetStreamEventStore.open(at);
    try {
      await store.append('s-1', 'no-stream', [anEvent()], command());
      const nc = await connect({ servers: c.urls.split(',') });
      const info = await (await jetstreamManager(nc)).streams.info(at.stream);
      await nc.close();
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.leader).toBeTruthy();
      expect(info.cluster?.replicas).toHaveLength(2);
    } finally {
      await store.close();
      await deleteStreams(c.urls, at.stream);
    }
  });
});

describe('JetStreamEventStore: several nodes opening one new replicated log at once', () => {
  it('all open (one creates the streams, the others wait for their leaders) and append to it', async () => {
    const c = await nats();
    const at = { url: c.urls, stream: 'STRATA_R3_RACE', subjectRoot: 'r3race', replicas: 3 };
    const stores = await Promise.all([1, 2, 3].map(() => JetStreamEventStore.open(at)));
    try {
      const results = await Promise.all(stores.map((store, i) => store.append(`s-${i}`, 'no-stream', [anEvent()], command(`race-${i}`))));
      expect(results.map((r) => r.duplicate)).toEqual([false, false, false]);
      expect(await stores[0]!.head()).toBe(Math.max(...results.map((r) => r.position)));
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await deleteStreams(c.urls, at.stream);
    }
  }, 60_000);
});

describe('JetStreamEventStore on a three-server cluster, one server killed under load', () => {
  it('loses no acknowledged append, duplicates none, and keeps taking writes', async () => {
    const c = await nats();
    const at = { url: c.urls, stream: 'STRATA_R3_LOAD', subjectRoot: 'r3load', replicas: 3, reconnectWaitMs: 100 };
    const store = await JetStreamEventStore.open(at);
    const WORKERS = 4;
    const PER_WORKER = 100;
    const KILL_AFTER = 80; // acknowledged appends before the kill
    const deadline = Date.now() + 60_000;
    const acked = new Map<string, number>(); // commandId → position
    let failures = 0;
    let ackedAfterKill = 0;
    let killed: string | undefined;
    let killing: Promise<void> | undefined;
    try {
      // The server to kill: the leader of the event stream (the harshest case: its Raft group elects anew).
      await store.append('s-warmup', 'no-stream', [anEvent()], command('cmd-warmup'));
      const nc = await connect({ servers: c.urls.split(',') });
      const leader = (await (await jetstreamManager(nc)).streams.info(at.stream)).cluster?.leader;
      await nc.close();
      const victim = c.servers.find((s) => s.name === leader) ?? c.servers[0]!;

      const worker = async (w: number) => {
        for (let i = 0; i < PER_WORKER; i++) {
          const commandId = `cmd-${w}-${i}`;
          const event = anEvent({ type: 'LoadTick', data: { w, i } });
          // Retry with the same commandId (and the same event) until acknowledged: what a client does.
          for (;;) {
            if (Date.now() > deadline) throw new Error(`append ${commandId} not acknowledged within the deadline (${failures} failed attempts)`);
            try {
              const result = await store.append(`load-${w}`, 'any', [event], command(commandId));
              acked.set(commandId, result.position);
              if (killed) ackedAfterKill += 1;
              break;
            } catch {
              failures += 1;
              await new Promise((r) => setTimeout(r, 50));
            }
          }
          if (!killing && acked.size >= KILL_AFTER) {
            killing = victim.crash().then(() => {
              killed = victim.name;
            });
          }
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
      await killing;

      expect(killed).toBe(victim.name);
      expect(acked.size).toBe(WORKERS * PER_WORKER);
      expect(ackedAfterKill).toBeGreaterThan(0); // writes continued on the two servers left

      // Every acknowledged append is in the log exactly once, at the position it was acknowledged with.
      const seen = new Map<string, number[]>();
      for (const e of await readWholeLog(store)) {
        if (e.type !== 'LoadTick') continue;
        seen.set(e.commandId, [...(seen.get(e.commandId) ?? []), e.position]);
      }
      expect(seen.size).toBe(acked.size);
      for (const [commandId, position] of acked) expect(seen.get(commandId)).toEqual([position]);
      for (let w = 0; w < WORKERS; w++) expect(await store.readStream(`load-${w}`)).toHaveLength(PER_WORKER);

      // The killed server comes back, catches up, and the cluster is whole again.
      await victim.restart();
      const after = await store.append('load-0', 'any', [anEvent({ type: 'LoadTick' })], command('cmd-after-restart'));
      expect(after.duplicate).toBe(false);
    } finally {
      await store.close();
      await deleteStreams(c.urls, at.stream).catch(() => undefined);
    }
    console.info(`cluster load: ${acked.size} appends acknowledged, ${ackedAfterKill} after killing ${killed}, ${failures} failed attempts retried`);
  }, 120_000);
});
