#!/usr/bin/env node
// Forensics by messages alone: every container that exits with a non-zero code gets its writable layer
// committed into an image, so what it left behind can be inspected later.
//
// Plain nats.js, no Strata code: it reads events from the JetStream stream through a durable consumer
// (so it resumes where it stopped after a restart) and sends CommitLayer over NATS request/reply.
// It never acts twice on one event: the command's Idempotency-Key is derived from the event id, so
// a redelivered event (the script died before its ack) gets the first commit's answer back.
//
//   NATS_URL=nats://127.0.0.1:4222 STRATA_TOKEN=$(cat .strata/admin.token) node commit-on-failure.mjs
//
// Environment: NATS_URL, STRATA_TOKEN (an API token of a principal allowed to commit), STRATA_STREAM
// (default STRATA), DURABLE (the consumer's name, default commit-on-failure), TAG_REPO (default forensics).
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';

const url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const token = process.env.STRATA_TOKEN;
const stream = process.env.STRATA_STREAM ?? 'STRATA';
const durable = process.env.DURABLE ?? 'commit-on-failure';
const tagRepo = process.env.TAG_REPO ?? 'forensics';
if (!token) {
  console.error('STRATA_TOKEN is not set: give the script an API token (the admin token is in <data-dir>/admin.token)');
  process.exit(2);
}

const log = (fields) => console.log(JSON.stringify({ time: new Date().toISOString(), ...fields }));
const nc = await connect({ servers: url.split(','), name: durable, maxReconnectAttempts: -1 });
const jsm = await jetstreamManager(nc);

// The durable consumer remembers what was acknowledged: a restarted script goes on from there.
const wanted = {
  durable_name: durable,
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
  filter_subject: 'strata.events.container.>',
  ack_wait: 120_000_000_000, // 2 min in ns: a commit of a big layer takes a while
  max_ack_pending: 16,
};
await jsm.consumers.info(stream, durable).catch(() => jsm.consumers.add(stream, wanted));
const consumer = await jetstream(nc).consumers.get(stream, durable);
log({ msg: 'waiting for containers that fail', stream, durable });

async function commit(event) {
  const h = headers();
  h.set('Authorization', `Bearer ${token}`);
  h.set('Idempotency-Key', `commit-on-failure-${event.eventId}`);
  h.set('X-Causation-Id', event.eventId); // the commit's events say which exit caused them
  const input = {
    container: event.data.id,
    tag: `${tagRepo}:${event.data.id.slice(0, 12)}-exit-${event.data.exitCode}`,
    message: `committed for forensics after exit code ${event.data.exitCode} (event ${event.eventId})`,
  };
  const reply = await nc.request('strata.cmd.CommitLayer', JSON.stringify(input), { headers: h, timeout: 120_000 });
  return { status: Number(reply.headers?.get('Strata-Status') ?? 0), body: reply.json() };
}

const messages = await consumer.consume();
const stop = async () => {
  await messages.close();
  await nc.drain();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

for await (const m of messages) {
  // One message is one append: its events, with the ids the headers also carry.
  const body = m.json();
  const types = (m.headers?.get('Strata-Event-Types') ?? '').split(',');
  let retry = false;
  if (types.includes('ContainerExited')) {
    for (const [i, e] of body.events.entries()) {
      if (e.type !== 'ContainerExited' || e.data.exitCode === 0) continue;
      const event = { ...e, eventId: e.eventId ?? `${body.commandId}-${i}` };
      try {
        const { status, body: reply } = await commit(event);
        if (reply.ok) log({ msg: 'committed', container: event.data.id, exitCode: event.data.exitCode, image: reply.result.image?.manifestDigest, duplicate: reply.result.commands?.every((c) => c.duplicate) ?? false });
        else if (status >= 500) retry = true;
        // A 4xx will not get better by trying again (the container was removed meanwhile): say so, go on.
        else log({ msg: 'not committed', container: event.data.id, status, code: reply.problem.code, detail: reply.problem.detail });
      } catch (error) {
        retry = true; // no answer (the node is down): try again later
        log({ msg: 'no answer, will retry', container: event.data.id, error: String(error) });
      }
    }
  }
  if (retry) m.nak(2000);
  else m.ack();
}
