import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers } from '@nats-io/transport-node';
import { InvalidAppendError } from '../port.js';
import { factoryFromConfig } from '../testing/config-factory.js';
import { anEvent, command } from '../testing/contract-fixtures.js';
import { eventStoreContract } from '../testing/event-store-contract.js';
import { sharedNatsServer } from '../testing/isolated-streams.js';
import { HEADER, JetStreamEventStore, POSITION_STRIDE } from './jetstream-event-store.js';
import { encodeToken, streamTokens } from './subjects.js';

const shared = sharedNatsServer();
const nats = shared.server;
/** Streams of their own for a test outside the contract; deleted afterwards. */
const isolated = () => shared.isolated('x');

afterAll(() => shared.stop());

eventStoreContract(
  'jetstream',
  factoryFromConfig(async () => {
    const { url, stream, subjectRoot, destroy } = await shared.isolated('t');
    return { config: { kind: 'jetstream', url, stream, subjectRoot }, destroy };
  }),
);

describe('JetStream subjects', () => {
  it('encode stream ids so that no id can break or share a subject', () => {
    expect(streamTokens('container-abc')).toBe('container.abc');
    expect(streamTokens('image-3f5a')).toBe('image.3f5a');
    expect(streamTokens('repository-acme/app-x')).toBe('repository.acme/app-x');
    expect(streamTokens('s-a.b*c>d e%f')).toBe('s.a%2Eb%2Ac%3Ed%20e%25f');
    expect(streamTokens('plain')).toBe('-.plain');
    expect(streamTokens('-lead')).toBe('-.-lead');
    expect(streamTokens('trail-')).toBe('-.trail-');
    expect(encodeToken('tab\there')).toBe('tab%09here');
    const ids = ['a-b', 'a-b.c', 'a.b-c', 'ab', '-ab', 'ab-', '%2E', '.', 'a-%2E', 'a-.'];
    expect(new Set(ids.map(streamTokens)).size).toBe(ids.length);
  });
});

describe('nats-server harness', () => {
  beforeAll(async () => {
    await nats();
  });
  it('restarts on the same store, keeping the streams', async () => {
    const s = await nats();
    const nc = await connect({ servers: s.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'HARNESS', subjects: ['harness.>'], storage: 'file' });
    await nc.close();
    await s.restart();
    const again = await connect({ servers: s.url });
    const info = await (await jetstreamManager(again)).streams.info('HARNESS');
    expect(info.config.name).toBe('HARNESS');
    await (await jetstreamManager(again)).streams.delete('HARNESS');
    await again.close();
  });
});

describe('JetStreamEventStore', () => {
  it('puts one message per append on the stream subject, with types, ids and versions in headers', async () => {
    const at = await isolated();
    const store = await JetStreamEventStore.open(at);
    try {
      const events = [anEvent({ type: 'ContainerCreated' }), anEvent({ type: 'ContainerStarted' })];
      const result = await store.append('container-a.b', 'no-stream', events, command('cmd-h'));
      expect(result.events.map((e) => e.position)).toEqual([result.position - 1, result.position]);
      expect(result.position % POSITION_STRIDE).toBe(1);
      const nc = await connect({ servers: at.url });
      const jsm = await jetstreamManager(nc);
      const m = await jsm.direct.getMessage(at.stream, { last_by_subj: `${at.subjectRoot}.events.container.a%2Eb` });
      await nc.close();
      expect(m?.seq).toBe(Math.floor(result.position / POSITION_STRIDE));
      expect(m?.header.get('Nats-Msg-Id')).toBe('cmd-h');
      expect(m?.header.get(HEADER.types)).toBe('ContainerCreated,ContainerStarted');
      expect(m?.header.get(HEADER.eventIds)).toBe(events.map((e) => e.eventId).join(','));
      expect([m?.header.get(HEADER.firstVersion), m?.header.get(HEADER.lastVersion), m?.header.get(HEADER.count)]).toEqual(['1', '2', '2']);
      expect(decodeURIComponent(m?.header.get(HEADER.streamId) ?? '')).toBe('container-a.b');
    } finally {
      await store.close();
      await at.destroy();
    }
  });

  it(`refuses an append of more than ${POSITION_STRIDE} events (they would not fit the positions of one message)`, async () => {
    const at = await isolated();
    const store = await JetStreamEventStore.open(at);
    try {
      const many = Array.from({ length: POSITION_STRIDE + 1 }, () => anEvent());
      await expect(store.append('s-big', 'no-stream', many, command())).rejects.toBeInstanceOf(InvalidAppendError);
      expect(await store.head()).toBe(0);
    } finally {
      await store.close();
      await at.destroy();
    }
  });

  it('a retry after the dedup window is answered from the command index, not appended again', async () => {
    const at = await isolated();
    const store = await JetStreamEventStore.open({ ...at, duplicateWindowMs: 100 });
    try {
      const first = await store.append('s-1', 'any', [anEvent()], command('cmd-late'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await store.append('s-1', 'any', [anEvent()], command('cmd-late'))).toStrictEqual({ ...first, duplicate: true });
      expect(await store.readStream('s-1')).toHaveLength(1);
    } finally {
      await store.close();
      await at.destroy();
    }
  });

  it('a message whose writer died before indexing it is indexed when a store opens', async () => {
    const at = await isolated();
    const store = await JetStreamEventStore.open({ ...at, duplicateWindowMs: 100 });
    await store.append('s-0', 'no-stream', [anEvent()], command());
    // What a writer killed between its publish and its index entry leaves behind.
    const nc = await connect({ servers: at.url });
    const h = headers();
    h.set(HEADER.commandId, 'cmd-orphan');
    h.set(HEADER.count, '1');
    h.set(HEADER.lastVersion, '1');
    const event = anEvent();
    await (await jetstreamManager(nc)).jetstream().publish(`${at.subjectRoot}.events.s.1`, JSON.stringify({ streamId: 's-1', commandId: 'cmd-orphan', firstVersion: 1, events: [event] }), { headers: h });
    await nc.close();
    await store.close();
    await new Promise((resolve) => setTimeout(resolve, 300)); // past the dedup window
    const reopened = await JetStreamEventStore.open(at);
    try {
      expect((await reopened.readCommand('cmd-orphan')).map((e) => e.eventId)).toEqual([event.eventId]);
      expect(await reopened.append('s-1', 'no-stream', [anEvent()], command('cmd-orphan'))).toMatchObject({ duplicate: true, version: 1 });
    } finally {
      await reopened.close();
      await at.destroy();
    }
  });
});
