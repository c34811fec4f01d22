/**
 * Where an append and a readAll page of the JetStream adapter spend their time (bench/NOTES.md, JetStream).
 * From bench/: TSX_TSCONFIG_PATH=../tsconfig.json node --import tsx results/jetstream-roundtrips.ts [n]
 * (add --cpu-prof --cpu-prof-dir=/tmp/prof before --import for a V8 profile of the client side).
 * One nats-server (the eventstore's harness), one connection; each primitive the adapter uses is timed
 * alone, n times in sequence (median and mean, ms), then the adapter's append and readAll, counting the
 * requests they send on the connection (every JetStream API call and publish is one NATS request).
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { startNatsServer } from '../../libs/eventstore/src/testing/nats-server.ts';
import { interleave, proposed, repositoryStreams } from '../lib/events.ts';

const n = Number(process.argv[2] ?? 2000);
// ADAPTER=<path relative to this file>: another copy of the adapter (the profile of the code before a change).
const { JetStreamEventStore } = (await import(process.env.ADAPTER ?? '../../libs/eventstore/src/jetstream/jetstream-event-store.ts')) as typeof import('../../libs/eventstore/src/jetstream/jetstream-event-store.ts');
const server = await startNatsServer();
try {
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: 'P', subjects: ['p.>'], storage: 'file' as never, allow_direct: true, duplicate_window: 120e9 });
  await jsm.streams.add({ name: 'P_C', subjects: ['pc.>'], storage: 'file' as never, allow_direct: true, max_msgs_per_subject: 1 });
  const body = JSON.stringify({ streamId: 'repository-team1/service-1', commandId: 'c', firstVersion: 1, events: [{ eventId: 'e', type: 'ImageTagged', schemaVersion: 1, occurredAt: new Date().toISOString(), actor: 'bench', data: { tag: 'v1', digest: 'sha256:' + 'a'.repeat(64) } }] });
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `median ${s[Math.floor(s.length / 2)].toFixed(3)} ms, mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3)} ms, p99 ${s[Math.floor(s.length * 0.99)].toFixed(3)} ms`;
  };
  const time = async (name: string, fn: (i: number) => Promise<unknown>) => {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await fn(i);
      xs.push(performance.now() - t0);
    }
    console.log(`${name.padEnd(58)} ${stats(xs)}`);
  };
  let last = 0;
  // ONLY=adapter: skip the primitives (a CPU profile of the adapter alone).
  if (process.env.ONLY !== 'adapter') {
  await time('raw js.publish (no headers, no msgID)', async (i) => (last = (await js.publish(`p.s${i % 64}`, body)).seq));
  await time('direct get, index last_by_subj (command lookup, miss)', (i) => jsm.direct.getMessage('P_C', { last_by_subj: `pc.c.x${i}` }));
  await time('STREAM.MSG.GET last_by_subj (tip, from the leader)', (i) => jsm.streams.getMessage('P', { last_by_subj: `p.s${i % 64}` }));
  await time('direct get last_by_subj (tip, any replica)', (i) => jsm.direct.getMessage('P', { last_by_subj: `p.s${i % 64}` }));
  const tips = new Map<string, number>();
  await time('js.publish + 7 headers + msgID + expected last subj seq', async (i) => {
    const subject = `p.t${i % 64}`;
    const h = headers();
    for (const k of ['A', 'B', 'C', 'D', 'E', 'F', 'G']) h.set(`Strata-${k}`, String(i));
    const ack = await js.publish(subject, body, { headers: h, msgID: `m${i}`, expect: { lastSubjectSequence: tips.get(subject) ?? 0 } });
    tips.set(subject, ack.seq);
  });
  await time('index publish, expected last subj seq 0', (i) => js.publish(`pc.c.m${i}`, String(i), { expect: { lastSubjectSequence: 0 } }));
  await time('direct get by seq (one readAll message)', (i) => jsm.direct.getMessage('P', { seq: 1 + (i % last) }));
  await time('STREAM.INFO (readAll lastSeq)', () => jsm.streams.info('P'));
  await time('64 direct gets by seq in parallel (one readAll window)', (i) => Promise.all(Array.from({ length: 64 }, (_, k) => jsm.direct.getMessage('P', { seq: 1 + ((i * 64 + k) % last) }))));
  await time('ordered consumer: create + fetch 1000 + close', async () => {
    const c = await js.consumers.get('P', { deliver_policy: 'by_start_sequence' as never, opt_start_seq: 1 });
    const it = await c.fetch({ max_messages: 1000, expires: 5000 });
    let k = 0;
    for await (const m of it) if (++k >= 1000 || m.info.pending === 0) break;
    await it.close();
    void c.delete().catch(() => undefined);
  });
  }

  // The adapter itself, with the requests it sends counted (request() and publish() on the connection).
  let requests = 0;
  const count = <T extends object>(o: T, k: keyof T) => {
    const f = (o[k] as (...a: unknown[]) => unknown).bind(o);
    (o as Record<keyof T, unknown>)[k] = (...a: unknown[]) => (requests++, f(...a));
  };
  const store = await JetStreamEventStore.open({ url: server.url, stream: 'S', subjectRoot: 'st' });
  const snc = (store as unknown as { nc: object }).nc;
  count(snc as never, 'request' as never);
  // The bench's append workload: 64 repository streams, one event per append, round-robin.
  const order = interleave(repositoryStreams(64, Math.ceil(n / 64), 'tags')).slice(0, n);
  requests = 0;
  await time('adapter append (1 writer, 64 streams round-robin)', (i) => {
    const e = order[i];
    return store.append(e.streamId, e.version === 1 ? 'no-stream' : e.version - 1, [proposed(e)], { commandId: `cmd-${e.eventId}` });
  });
  console.log(`  requests per append: ${(requests / n).toFixed(2)}`);
  requests = 0;
  const t0 = performance.now();
  let pages = 0;
  for (let after = 0; ; pages++) {
    const page = await store.readAll({ after, limit: 1000 });
    if (page.length === 0) break;
    after = page.at(-1)!.position;
  }
  console.log(`adapter readAll of ${n} events, pages of 1000: ${(performance.now() - t0).toFixed(0)} ms, ${pages} pages, ${(requests / Math.max(1, pages)).toFixed(1)} requests per page`);
  await store.close();
  await nc.close();
} finally {
  await server.stop();
}
