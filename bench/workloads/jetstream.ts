/**
 * Workload 3: JetStream (issue 7). One nats-server (Debian's, started by libs/eventstore's test harness
 * on a free 127.0.0.1 port with a temp store, always stopped), file storage, one replica. Every run
 * writes into streams of its own (deleted after the run), so no run sees another's messages.
 * Append, the same events as workload 1 (64 repository streams, one event per append):
 * - raw `js.publish` of the same JSON body, awaited one by one (limit, sequential);
 * - raw `js.publish` pipelined: 64 in flight, awaited together (limit for many writers);
 * - Strata's JetStreamEventStore.append, 1 writer (round-robin) and 64 writers (one per stream).
 * Read, a log of `readEvents` events appended through the adapter (64 writers), read 5 times:
 * - raw ordered consumer (js.consumers.get without a name; consume()), JSON body parsed (limit);
 * - Strata readAll, pages of 1000; Strata subscribe(0) (its ordered consumer), until the last event.
 */
import { jetstreamManager, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { loadavg } from 'node:os';
import { domainUpcasters } from '../../libs/domain/src/index.ts';
import { JetStreamEventStore } from '../../libs/eventstore/src/jetstream/jetstream-event-store.ts';
import { startNatsServer, type NatsServerHandle } from '../../libs/eventstore/src/testing/nats-server.ts';
import { interleave, proposed, repositoryStreams, type BenchEvent } from '../lib/events.ts';
import type { SectionRow } from '../lib/section.ts';
import { figure } from '../lib/stats.ts';

/** A row of this workload: a RESULTS.md section row, tagged with the workload. */
export type JetStreamRow = SectionRow & { workload: 'jetstream' };

export interface JetStreamInfo {
  natsServer?: string;
  appendEvents: number;
  readEvents: number;
  load?: [number, number];
}

export interface JetStreamOptions {
  streams: number;
  perStream: number;
  readEvents: number;
  runs: number;
  log: (s: string) => void;
}

const PIPELINE = 64;
let serial = 0;

/** A stream of its own for raw publishes: `<name>` on `<root>.>`, file storage, as the adapter's. */
async function rawStream(jsm: JetStreamManager): Promise<{ name: string; root: string }> {
  serial++;
  const name = `BENCH_RAW_${process.pid}_${serial}`;
  const root = `braw${serial}`;
  await jsm.streams.add({ name, subjects: [`${root}.>`], storage: 'file' as never, num_replicas: 1, allow_direct: true });
  return { name, root };
}

/** The adapter on streams of its own (and its command index stream). */
async function adapterStore(url: string): Promise<{ store: JetStreamEventStore; streams: string[] }> {
  serial++;
  const stream = `BENCH_STRATA_${process.pid}_${serial}`;
  const store = await JetStreamEventStore.open({ url, stream, subjectRoot: `bstr${serial}`, upcasters: domainUpcasters() });
  return { store, streams: [stream, `${stream}_COMMANDS`] };
}

const bodyOf = (e: BenchEvent) => JSON.stringify({ streamId: e.streamId, commandId: `cmd-${e.eventId}`, firstVersion: e.version, events: [proposed(e)] });
const subjectOf = (root: string, e: BenchEvent) => `${root}.events.${e.streamId}`; // repository-team1/service-1: no '.', '*', '>' or space

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function jetstreamWorkload(o: JetStreamOptions): Promise<{ rows: JetStreamRow[]; info: JetStreamInfo }> {
  const rows: JetStreamRow[] = [];
  const streams = repositoryStreams(o.streams, o.perStream, 'tags');
  const total = o.streams * o.perStream;
  const info: JetStreamInfo = { appendEvents: total, readEvents: o.readEvents, load: [+loadavg()[0].toFixed(1), NaN] };
  const failed = (name: string, error: unknown): JetStreamRow => {
    o.log(`  ${name}: FAILED ${String(error)}`);
    return { workload: 'jetstream', name, figure: figure('events/s', [NaN]), error: String(error).slice(0, 400) };
  };
  let server: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;
  try {
    server = await startNatsServer();
    nc = await connect({ servers: server.url, name: 'strata-bench-raw' });
    info.natsServer = `${nc.info?.version ?? '?'}`;
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const url = server.url;
    o.log(`jetstream: nats-server ${info.natsServer} on ${url}; append ${total} events (${o.streams} streams), read ${o.readEvents}; ${o.runs} runs, contenders interleaved`);

    const names = {
      rawSeq: 'raw js.publish, awaited one by one',
      rawPipe: `raw js.publish, pipelined (${PIPELINE} in flight, awaited together)`,
      seq: 'Strata JetStreamEventStore.append, 1 writer',
      conc: `Strata JetStreamEventStore.append, ${o.streams} writers on distinct streams`,
      seqFresh: 'Strata JetStreamEventStore.append, 1 writer, ids minted by the caller (fresh: no idempotency lookup, as for a command without Idempotency-Key)',
      concFresh: `Strata JetStreamEventStore.append, ${o.streams} writers on distinct streams, ids minted by the caller (fresh)`,
      rawRead: 'raw ordered consumer (consume(), JSON parsed)',
      readAll: 'Strata readAll, pages of 1000',
      subscribe: 'Strata subscribe(0) (ordered consumer) until the last event',
    };
    type Key = keyof typeof names;
    const runs = Object.fromEntries(Object.keys(names).map((k) => [k, [] as number[]])) as Record<Key, number[]>;
    const errors: Partial<Record<Key, unknown>> = {};
    const attempt = async (key: Key, fn: () => Promise<number>) => {
      if (errors[key]) return;
      try {
        runs[key].push(await fn());
      } catch (error) {
        errors[key] = error;
      }
    };
    const drop = async (names: string[]) => {
      for (const n of names) await jsm.streams.delete(n).catch(() => false);
    };
    const order = interleave(streams);
    const append = (store: JetStreamEventStore, e: BenchEvent, fresh = false) =>
      store.append(e.streamId, e.version === 1 ? 'no-stream' : e.version - 1, [proposed(e)], { commandId: `cmd-${e.eventId}`, fresh });

    for (let i = 1; i <= o.runs; i++) {
      await attempt('rawSeq', async () => {
        const s = await rawStream(jsm);
        try {
          const ms = await timed(async () => {
            for (const e of order) await js.publish(subjectOf(s.root, e), bodyOf(e));
          });
          return (total * 1000) / ms;
        } finally {
          await drop([s.name]);
        }
      });
      await attempt('rawPipe', async () => {
        const s = await rawStream(jsm);
        try {
          const ms = await timed(async () => {
            for (let k = 0; k < order.length; k += PIPELINE) await Promise.all(order.slice(k, k + PIPELINE).map((e) => js.publish(subjectOf(s.root, e), bodyOf(e))));
          });
          return (total * 1000) / ms;
        } finally {
          await drop([s.name]);
        }
      });
      for (const fresh of [false, true]) {
        await attempt(fresh ? 'seqFresh' : 'seq', async () => {
          const a = await adapterStore(url);
          try {
            const ms = await timed(async () => {
              for (const e of order) await append(a.store, e, fresh);
            });
            return (total * 1000) / ms;
          } finally {
            await a.store.close();
            await drop(a.streams);
          }
        });
        await attempt(fresh ? 'concFresh' : 'conc', async () => {
          const a = await adapterStore(url);
          try {
            const ms = await timed(async () => {
              await Promise.all(streams.map(async (s) => {
                for (const e of s) await append(a.store, e, fresh);
              }));
            });
            return (total * 1000) / ms;
          } finally {
            await a.store.close();
            await drop(a.streams);
          }
        });
      }
      o.log(`  run ${i}: ${(Object.keys(names).slice(0, 6) as Key[]).map((k) => `${k} ${runs[k].length ? Math.round(runs[k].at(-1)!) : '—'}`).join(', ')} events/s`);
    }

    // Read: one log written through the adapter, read by each contender in turn, 5 times.
    const a = await adapterStore(url);
    try {
      const per = Math.max(1, Math.ceil(o.readEvents / o.streams));
      const readStreams = repositoryStreams(o.streams, per, 'tags');
      const t0 = performance.now();
      await Promise.all(readStreams.map(async (s) => {
        for (const e of s) await append(a.store, e);
      }));
      const n = o.streams * per;
      const head = await a.store.head();
      o.log(`  read setup: ${n} events appended through the adapter (64 writers) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      for (let i = 1; i <= o.runs; i++) {
        await attempt('rawRead', async () => {
          let count = 0;
          const ms = await timed(async () => {
            const consumer = await js.consumers.get(a.streams[0]);
            const messages = await consumer.consume();
            try {
              for await (const m of messages) {
                count += (m.json() as { events: unknown[] }).events.length;
                if (m.info.pending === 0 && count >= n) break;
              }
            } finally {
              await messages.close();
            }
          });
          if (count !== n) throw new Error(`the ordered consumer read ${count} events, expected ${n}`);
          return (n * 1000) / ms;
        });
        await attempt('readAll', async () => {
          let count = 0;
          const ms = await timed(async () => {
            let after = 0;
            for (let page = 0; page < n; page++) {
              const events = await a.store.readAll({ after, limit: 1000 });
              if (events.length === 0) break;
              count += events.length;
              after = events.at(-1)!.position;
            }
          });
          if (count !== n) throw new Error(`readAll read ${count} events, expected ${n}`);
          return (n * 1000) / ms;
        });
        await attempt('subscribe', async () => {
          let count = 0;
          const ms = await timed(async () => {
            const sub = a.store.subscribe(0);
            try {
              for await (const e of sub) {
                count++;
                if (e.position >= head) break;
              }
            } finally {
              await sub.close();
            }
          });
          if (count !== n) throw new Error(`subscribe yielded ${count} events, expected ${n}`);
          return (n * 1000) / ms;
        });
        o.log(`  read run ${i}: ${(['rawRead', 'readAll', 'subscribe'] as Key[]).map((k) => `${k} ${runs[k].length ? Math.round(runs[k].at(-1)!) : '—'}`).join(', ')} events/s`);
      }
      names.rawRead += ` (${n} events)`;
      names.readAll += ` (${n} events)`;
      names.subscribe += ` (${n} events)`;
    } finally {
      await a.store.close();
      await drop(a.streams);
    }

    const row = (key: Key): JetStreamRow | undefined =>
      errors[key] ? failed(names[key], errors[key]) : runs[key].length ? { workload: 'jetstream', name: names[key], figure: figure('events/s', runs[key]) } : undefined;
    const ratio = (x?: JetStreamRow, y?: JetStreamRow) => (x && y && !x.error && !y.error ? x.figure.median / y.figure.median : undefined);
    const r = Object.fromEntries(Object.keys(names).map((k) => [k, row(k as Key)])) as Record<Key, JetStreamRow | undefined>;
    if (r.rawSeq) rows.push({ ...r.rawSeq, limit: true });
    if (r.rawPipe) rows.push({ ...r.rawPipe, limit: true });
    if (r.seq) rows.push({ ...r.seq, reference: names.rawSeq, ratio: ratio(r.seq, r.rawSeq), target: '≥ 0.8× raw publish' });
    if (r.conc) rows.push({ ...r.conc, reference: names.rawPipe, ratio: ratio(r.conc, r.rawPipe), target: '≥ 0.8× raw publish' });
    if (r.seqFresh) rows.push({ ...r.seqFresh, reference: names.rawSeq, ratio: ratio(r.seqFresh, r.rawSeq), target: '≥ 0.8× raw publish' });
    if (r.concFresh) rows.push({ ...r.concFresh, reference: names.rawPipe, ratio: ratio(r.concFresh, r.rawPipe), target: '≥ 0.8× raw publish' });
    if (r.conc && r.rawSeq && !r.conc.error)
      rows.push({ workload: 'jetstream', name: `Strata append, ${o.streams} writers, vs raw sequential publish`, reference: names.rawSeq, figure: r.conc.figure, ratio: ratio(r.conc, r.rawSeq) });
    if (r.rawRead) rows.push({ ...r.rawRead, limit: true });
    if (r.readAll) rows.push({ ...r.readAll, reference: names.rawRead, ratio: ratio(r.readAll, r.rawRead), target: '≥ 0.7× raw consumer' });
    if (r.subscribe) rows.push({ ...r.subscribe, reference: names.rawRead, ratio: ratio(r.subscribe, r.rawRead), target: '≥ 0.7× raw consumer' });
    for (const x of rows) if (!x.error) o.log(`  ${x.name}: ${Math.round(x.figure.median)} (${Math.round(x.figure.min)}–${Math.round(x.figure.max)}) events/s${x.ratio ? `, ${x.ratio.toFixed(2)}×` : ''}`);
  } catch (error) {
    rows.push(failed('JetStream workload', error));
  } finally {
    await nc?.close().catch(() => undefined);
    await server?.stop().catch((error: unknown) => o.log(`  stopping nats-server: ${String(error)}`));
  }
  info.load![1] = +loadavg()[0].toFixed(1);
  return { rows, info };
}
