/**
 * The writer of the contract suite's crash test, run in its own process (`node --import tsx`):
 *   append-child.ts '<config JSON>' [workers] [maxAppends]
 * Opens the store the config names and appends as fast as it can with `workers` appends in flight
 * (so group commit batches them), half on streams of their own with exact expected versions, half on
 * one shared stream with 'any'. Prints `ready`, then one JSON line per append, written only after
 * the append resolved: the parent holds the store to every line it received. Stops by itself after
 * `maxAppends` appends, so it never runs forever if nobody kills it.
 */
import { randomUUID } from 'node:crypto';
import { openEventStore, parseEventStoreConfig } from '../open-event-store.js';

export interface ChildAck {
  commandId: string;
  streamId: string;
  version: number;
  positions: number[];
}

const config = parseEventStoreConfig(JSON.parse(process.argv[2] ?? 'null'));
const workers = Number(process.argv[3] ?? 32);
const maxAppends = Number(process.argv[4] ?? 200_000);

const store = await openEventStore(config);
let started = 0;

async function worker(w: number): Promise<void> {
  const shared = w % 2 === 1;
  const streamId = shared ? 'crash-shared' : `crash-own-${w}`;
  let version = 0;
  while (started < maxAppends) {
    const n = started++;
    const count = 1 + (n % 3); // 1 to 3 events: a torn multi-event append would show in the log
    const commandId = `crash-cmd-${n}`;
    const events = Array.from({ length: count }, (_, i) => ({
      eventId: randomUUID(),
      type: 'CrashProbe',
      schemaVersion: 1,
      occurredAt: new Date().toISOString(),
      actor: 'test:crash-child',
      correlationId: commandId,
      causationId: null,
      nodeId: 'crash-child',
      data: { n, i, of: count },
    }));
    const result = await store.append(streamId, shared ? 'any' : version, events, { commandId });
    version = result.version;
    const ack: ChildAck = { commandId, streamId, version: result.version, positions: result.events.map((e) => e.position) };
    process.stdout.write(`${JSON.stringify(ack)}\n`);
  }
}

process.stdout.write('ready\n');
await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
await store.close();
