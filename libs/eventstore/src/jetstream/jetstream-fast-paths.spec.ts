import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@strata/domain';
import { ConcurrencyError } from '../port.js';
import { anEvent, command } from '../testing/contract-fixtures.js';
import { sharedNatsServer } from '../testing/isolated-streams.js';
import { JetStreamEventStore } from './jetstream-event-store.js';

/** The adapter's fast paths (docs/DECISIONS.md, "JetStream appends"): batched readAll, remembered tips, index sent in the background. */
const shared = sharedNatsServer();
const isolated = () => shared.isolated('f');

afterAll(() => shared.stop());

describe('JetStreamEventStore fast paths', () => {
  it('readAll of many messages (an ordered consumer) keeps after, until, limit and positions exact', async () => {
    const at = await isolated();
    const store = await JetStreamEventStore.open(at);
    try {
      const all: EventEnvelope[] = [];
      for (let i = 0; i < 120; i++) {
        // Every fifth append holds three events: positions inside one message.
        const events = i % 5 === 0 ? [anEvent(), anEvent(), anEvent()] : [anEvent()];
        const r = await store.append(`s-${i % 7}`, 'any', events, command());
        all.push(...r.events);
      }
      expect(all).toHaveLength(168);
      expect(await store.readAll()).toStrictEqual(all);
      expect(await store.readAll({ limit: 100 })).toStrictEqual(all.slice(0, 100));
      // `after` in the middle of a three-event message, with and without until and limit.
      const mid = all.findIndex((e, k) => k > 20 && e.position % 1024 === 1);
      expect(await store.readAll({ after: all[mid].position })).toStrictEqual(all.slice(mid + 1));
      expect(await store.readAll({ after: all[mid].position, until: all[150].position })).toStrictEqual(all.slice(mid + 1, 151));
      expect(await store.readAll({ after: all[mid].position, until: all[150].position, limit: 77 })).toStrictEqual(all.slice(mid + 1, mid + 78));
      // `until` in the middle of a message.
      const cut = all.findIndex((e, k) => k > 100 && e.position % 1024 === 1);
      expect(await store.readAll({ until: all[cut].position })).toStrictEqual(all.slice(0, cut + 1));
      const paged: EventEnvelope[] = [];
      for (let after = 0; ; ) {
        const page = await store.readAll({ after, limit: 50 });
        if (page.length === 0) break;
        paged.push(...page);
        after = page.at(-1)!.position;
      }
      expect(paged).toStrictEqual(all);
      expect(await store.readAll({ after: all.at(-1)!.position })).toEqual([]);
    } finally {
      await store.close();
      await at.destroy();
    }
  });

  it('a fresh command id skips the idempotency lookup: only beyond the dedup window would a reused one append again', async () => {
    const at = await isolated();
    const store = await JetStreamEventStore.open({ ...at, duplicateWindowMs: 1_000 });
    try {
      const first = await store.append('s-1', 'any', [anEvent()], command('cmd-reused'));
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // past the server's dedup window
      // Without the hint the index answers (the second line of defence); with it, nothing is asked:
      // which is why only an id the caller has just minted may be marked fresh.
      expect(await store.append('s-1', 'any', [anEvent()], command('cmd-reused'))).toStrictEqual({ ...first, duplicate: true });
      expect(await store.append('s-1', 'any', [anEvent()], { commandId: 'cmd-reused', fresh: true })).toMatchObject({ duplicate: false, version: 2 });
    } finally {
      await store.close();
      await at.destroy();
    }
  });

  it('a tip remembered from its own append never decides: another process moving the stream is seen', async () => {
    const at = await isolated();
    const a = await JetStreamEventStore.open(at);
    const b = await JetStreamEventStore.open(at);
    try {
      await a.append('s-1', 'no-stream', [anEvent()], command());
      await b.append('s-1', 1, [anEvent()], command());
      // a remembers version 1; the stream is at 2: an append expecting 2 goes through, at version 3.
      expect(await a.append('s-1', 2, [anEvent()], command())).toMatchObject({ version: 3, duplicate: false });
      await b.append('s-1', 3, [anEvent()], command());
      // a remembers 3; it is at 4: expecting 3 is a conflict reported against the real version.
      const conflict = await a.append('s-1', 3, [anEvent()], command()).catch((e: unknown) => e);
      expect(conflict).toBeInstanceOf(ConcurrencyError);
      expect((conflict as Error).message).toMatch(/4/);
      await b.append('s-1', 4, [anEvent()], command());
      expect(await a.append('s-1', 'any', [anEvent()], command())).toMatchObject({ version: 6 });
      const versions = (await b.readStream('s-1')).map((e) => e.version);
      expect(versions).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await a.close();
      await b.close();
      await at.destroy();
    }
  });

  it('a command is known at once after its append returns, and still known to a store opened after close()', async () => {
    const at = await isolated();
    const store = await JetStreamEventStore.open(at);
    const first = await store.append('s-1', 'no-stream', [anEvent()], command('cmd-now'));
    expect(await store.readCommand('cmd-now')).toStrictEqual(first.events);
    expect(await store.append('s-1', 'no-stream', [anEvent()], command('cmd-now'))).toStrictEqual({ ...first, duplicate: true });
    await store.close();
    const other = await JetStreamEventStore.open(at);
    try {
      expect(await other.readCommand('cmd-now')).toStrictEqual(first.events);
    } finally {
      await other.close();
      await at.destroy();
    }
  });

  it('a fresh command is not indexed by its append: its own process answers for it, and the next open indexes it', async () => {
    const at = await isolated();
    const nc = await connect({ servers: at.url });
    const jsm = await jetstreamManager(nc);
    // The index's own bookkeeping (the repair checkpoint) is on the subject <root>.command-index.checkpoint.
    const entries = async () =>
      Object.keys((await jsm.streams.info(`${at.stream}_COMMANDS`, { subjects_filter: '>' })).state.subjects ?? {}).filter((s) => !s.endsWith('.checkpoint'));
    const other = await JetStreamEventStore.open(at);
    const store = await JetStreamEventStore.open(at);
    try {
      const indexed = await store.append('s-1', 'no-stream', [anEvent()], command('cmd-keyed'));
      const fresh = await store.append('s-2', 'no-stream', [anEvent()], { commandId: 'cmd-minted', fresh: true });
      await store.close(); // sends (and awaits) the background index entries
      expect(await entries()).toHaveLength(1); // cmd-keyed only: one message per fresh append, not two
      expect(await other.readCommand('cmd-keyed')).toStrictEqual(indexed.events);
      expect(await other.readCommand('cmd-minted')).toEqual([]);
      const reopened = await JetStreamEventStore.open(at); // repairIndex: every message past the checkpoint
      try {
        expect(await entries()).toHaveLength(2);
        expect(await reopened.readCommand('cmd-minted')).toStrictEqual(fresh.events);
        expect(await other.readCommand('cmd-minted')).toStrictEqual(fresh.events);
      } finally {
        await reopened.close();
      }
    } finally {
      await other.close();
      await nc.close();
      await at.destroy();
    }
  });

  it('a fresh command is answered by its own process, as a retry with the same id', async () => {
    const at = await isolated();
    const store = await JetStreamEventStore.open(at);
    try {
      const first = await store.append('s-1', 'no-stream', [anEvent()], { commandId: 'cmd-minted', fresh: true });
      expect(await store.readCommand('cmd-minted')).toStrictEqual(first.events);
      expect(await store.append('s-1', 'no-stream', [anEvent()], command('cmd-minted'))).toStrictEqual({ ...first, duplicate: true });
    } finally {
      await store.close();
      await at.destroy();
    }
  });

  it('appends made together are sent together, and their positions follow the order they were made', async () => {
    const at = await isolated();
    const store = await JetStreamEventStore.open(at);
    try {
      // Rounds of 64 appends on distinct streams made in one tick: all but the first wait in the outbox
      // for one send; a second round starts while the first is still being acknowledged.
      const rounds = [0, 1, 2].map((round) =>
        Promise.all(Array.from({ length: 64 }, (_, i) => store.append(`s-${i}`, 'any', [anEvent()], { commandId: `r${round}-${i}`, fresh: true }))),
      );
      const positions = (await Promise.all(rounds)).flat().map((r) => r.position);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect(new Set(positions).size).toBe(192);
      const versions = (await store.readStream('s-7')).map((e) => e.version);
      expect(versions).toEqual([1, 2, 3]);
    } finally {
      await store.close();
      await at.destroy();
    }
  });
});
