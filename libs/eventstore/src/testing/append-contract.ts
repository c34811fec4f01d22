import type { ProposedEvent } from '@strata/domain';
import { describe, expect, it } from 'vitest';
import { ConcurrencyError, InvalidAppendError, type AppendOptions, type ExpectedVersion } from '../port.js';
import type { ContractContext } from './contract-context.js';
import { anEvent, command, isStrictlyIncreasing, readWholeLog, stored } from './contract-fixtures.js';

/** Append semantics: envelope, numbering, expected versions, atomicity, idempotency, bad input. */
export function appendContract(ctx: ContractContext): void {
  describe('append and readStream', () => {
    it('round-trips the full envelope', async () => {
      const created = anEvent({ type: 'RepositoryCreated', schemaVersion: 2, data: { name: 'acme/app', visibility: 'private' } });
      const tagged = anEvent({
        type: 'ImageTagged',
        occurredAt: '2024-05-01T10:00:01.500Z',
        actor: 'token:ci',
        causationId: 'cause-1',
        nodeId: 'node-b',
        data: { name: 'acme/app', tag: 'latest', digest: `sha256:${'a'.repeat(64)}`, previousDigest: null, extra: { list: [1, 'two', null, { deep: true }], text: 'é✓🚢 "quoted"\n' } },
      });
      const result = await ctx.store.append('repository-acme', 'no-stream', [created, tagged], command('cmd-roundtrip'));

      const read = await ctx.store.readStream('repository-acme');
      const at = (version: number) => ({ streamId: 'repository-acme', version, commandId: 'cmd-roundtrip', position: read[version - 1].position });
      expect(read).toStrictEqual([stored(created, at(1)), stored(tagged, at(2))]);
      expect(result).toStrictEqual({ streamId: 'repository-acme', version: 2, position: read[1].position, events: read, duplicate: false });
      expect(await ctx.store.readAll()).toStrictEqual(read);
      expect(await ctx.store.readCommand('cmd-roundtrip')).toStrictEqual(read);
    });

    it('numbers versions 1..n per stream, independently of other streams', async () => {
      await ctx.store.append('s-a', 'no-stream', [anEvent(), anEvent()], command());
      await ctx.store.append('s-b', 'no-stream', [anEvent()], command());
      const third = await ctx.store.append('s-a', 2, [anEvent(), anEvent(), anEvent()], command());
      await ctx.store.append('s-b', 1, [anEvent()], command());

      expect(third.version).toBe(5);
      expect((await ctx.store.readStream('s-a')).map((e) => e.version)).toEqual([1, 2, 3, 4, 5]);
      expect((await ctx.store.readStream('s-b')).map((e) => e.version)).toEqual([1, 2]);
    });

    it('gives positions that strictly increase across streams, in the order appends were acknowledged', async () => {
      const appended: number[] = [];
      for (let i = 0; i < 6; i++) {
        const result = await ctx.store.append(`s-${i % 3}`, 'any', [anEvent(), anEvent()], command());
        appended.push(...result.events.map((e) => e.position));
      }
      const log = await ctx.store.readAll();
      expect(log.map((e) => e.position)).toEqual(appended);
      expect(isStrictlyIncreasing(appended)).toBe(true);
      expect(appended[0]).toBeGreaterThan(0);
    });

    it('reads an unknown stream, and an unknown command, as empty', async () => {
      await ctx.store.append('s-known', 'no-stream', [anEvent()], command());
      expect(await ctx.store.readStream('s-unknown')).toEqual([]);
      expect(await ctx.store.readCommand('never-sent')).toEqual([]);
    });

    it('stores occurredAt as a canonical UTC instant', async () => {
      await ctx.store.append('s-time', 'no-stream', [anEvent({ occurredAt: '2024-05-01T12:00:00+02:00' })], command());
      const [event] = await ctx.store.readStream('s-time');
      expect(event.occurredAt).toBe('2024-05-01T10:00:00.000Z');
    });
  });

  describe('expected version', () => {
    it("'no-stream' appends to a new stream and conflicts with an existing one", async () => {
      await ctx.store.append('s-1', 'no-stream', [anEvent()], command());
      const head = await ctx.store.head();
      const error = await ctx.store.append('s-1', 'no-stream', [anEvent()], command()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConcurrencyError);
      expect(error).toMatchObject({ code: 'CONCURRENCY_CONFLICT', streamId: 's-1', expected: 'no-stream', actual: 1 });
      expect(await ctx.store.readStream('s-1')).toHaveLength(1);
      expect(await ctx.store.head()).toBe(head);
    });

    it("'any' appends whatever the stream's version", async () => {
      expect((await ctx.store.append('s-1', 'any', [anEvent()], command())).version).toBe(1);
      expect((await ctx.store.append('s-1', 'any', [anEvent(), anEvent()], command())).version).toBe(3);
    });

    it('an exact version appends only when it is the last version (0 meaning no stream)', async () => {
      expect((await ctx.store.append('s-1', 0, [anEvent()], command())).version).toBe(1);
      await expect(ctx.store.append('s-1', 0, [anEvent()], command())).rejects.toMatchObject({ name: 'ConcurrencyError', actual: 1 });
      expect((await ctx.store.append('s-1', 1, [anEvent(), anEvent()], command())).version).toBe(3);
      for (const stale of [1, 2, 4]) {
        const error = await ctx.store.append('s-1', stale, [anEvent()], command()).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ConcurrencyError);
        expect(error).toMatchObject({ streamId: 's-1', expected: stale, actual: 3 });
      }
      await expect(ctx.store.append('s-new', 2, [anEvent()], command())).rejects.toMatchObject({ name: 'ConcurrencyError', actual: 0 });
      expect((await ctx.store.readStream('s-1')).map((e) => e.version)).toEqual([1, 2, 3]);
      expect(await ctx.store.readStream('s-new')).toEqual([]);
    });
  });

  describe('atomicity', () => {
    it('a conflicting multi-event append leaves none of its events', async () => {
      await ctx.store.append('s-1', 'no-stream', [anEvent()], command());
      const before = await readWholeLog(ctx.store);
      await expect(ctx.store.append('s-1', 0, [anEvent(), anEvent(), anEvent()], command())).rejects.toBeInstanceOf(ConcurrencyError);
      expect(await readWholeLog(ctx.store)).toStrictEqual(before);
    });

    it('appends sent together: the conflicting one fails alone and leaves nothing, the others succeed whole', async () => {
      await ctx.store.append('s-taken', 'no-stream', [anEvent()], command());
      const [a, b, c] = await Promise.allSettled([
        ctx.store.append('s-a', 'no-stream', [anEvent(), anEvent()], command('cmd-a')),
        ctx.store.append('s-taken', 'no-stream', [anEvent(), anEvent(), anEvent()], command('cmd-b')),
        ctx.store.append('s-c', 'any', [anEvent(), anEvent(), anEvent()], command('cmd-c')),
      ]);
      expect(a.status).toBe('fulfilled');
      expect(c.status).toBe('fulfilled');
      expect(b.status === 'rejected' && b.reason).toBeInstanceOf(ConcurrencyError);
      expect((await ctx.store.readStream('s-a')).map((e) => e.version)).toEqual([1, 2]);
      expect((await ctx.store.readStream('s-c')).map((e) => e.version)).toEqual([1, 2, 3]);
      expect(await ctx.store.readStream('s-taken')).toHaveLength(1);
      expect(await ctx.store.readCommand('cmd-b')).toEqual([]);
      expect(await readWholeLog(ctx.store)).toHaveLength(6);
    });
  });

  describe('idempotency by commandId', () => {
    it('a retried command appends nothing and gets the first result', async () => {
      const events = [anEvent(), anEvent()];
      const first = await ctx.store.append('s-1', 'no-stream', events, command('cmd-1'));
      const head = await ctx.store.head();
      const retry = await ctx.store.append('s-1', 'no-stream', events, command('cmd-1'));
      expect(retry).toStrictEqual({ ...first, duplicate: true });
      expect(await ctx.store.head()).toBe(head);
      expect(await ctx.store.readStream('s-1')).toHaveLength(2);
    });

    it('a retry gets the first result even after the stream moved on (no ConcurrencyError)', async () => {
      const first = await ctx.store.append('s-1', 'no-stream', [anEvent()], command('cmd-1'));
      await ctx.store.append('s-1', 1, [anEvent()], command('cmd-2'));
      const retry = await ctx.store.append('s-1', 'no-stream', [anEvent({ data: { different: true } })], command('cmd-1'));
      expect(retry).toStrictEqual({ ...first, duplicate: true });
      expect((await ctx.store.readStream('s-1')).map((e) => e.commandId)).toEqual(['cmd-1', 'cmd-2']);
    });

    it('the same command sent twice at once is appended once', async () => {
      const events = [anEvent(), anEvent()];
      const results = await Promise.all([
        ctx.store.append('s-1', 'no-stream', events, command('cmd-1')),
        ctx.store.append('s-1', 'no-stream', events, command('cmd-1')),
      ]);
      expect(results.map((r) => r.duplicate).sort()).toEqual([false, true]);
      expect(results[1].events).toStrictEqual(results[0].events);
      expect(await readWholeLog(ctx.store)).toHaveLength(2);
    });

    it('a fresh command id (minted by the caller, never appended) appends like any other, and a retry of it is still answered', async () => {
      const first = await ctx.store.append('s-1', 'no-stream', [anEvent()], { commandId: 'cmd-minted', fresh: true });
      expect(first).toMatchObject({ duplicate: false, version: 1 });
      const retry = await ctx.store.append('s-1', 'no-stream', [anEvent()], command('cmd-minted'));
      expect(retry).toStrictEqual({ ...first, duplicate: true });
      expect(await ctx.store.readStream('s-1')).toHaveLength(1);
    });

    it('a command that conflicted may be retried with the same commandId', async () => {
      await ctx.store.append('s-1', 'no-stream', [anEvent()], command());
      await expect(ctx.store.append('s-1', 'no-stream', [anEvent()], command('cmd-retried'))).rejects.toBeInstanceOf(ConcurrencyError);
      const retry = await ctx.store.append('s-1', 1, [anEvent()], command('cmd-retried'));
      expect(retry).toMatchObject({ duplicate: false, version: 2 });
    });
  });

  describe('bad input', () => {
    const bad: Array<[string, string, ExpectedVersion, ProposedEvent[], AppendOptions]> = [
      ['no events', 's-1', 'any', [], { commandId: 'c' }],
      ['no commandId', 's-1', 'any', [anEvent()], {} as AppendOptions],
      ['an empty commandId', 's-1', 'any', [anEvent()], { commandId: '' }],
      ['no options at all', 's-1', 'any', [anEvent()], undefined as unknown as AppendOptions],
      ['an empty streamId', '', 'any', [anEvent()], { commandId: 'c' }],
      ['a negative expected version', 's-1', -1, [anEvent()], { commandId: 'c' }],
      ['a fractional expected version', 's-1', 1.5, [anEvent()], { commandId: 'c' }],
      ['an unknown expected version', 's-1', 'latest' as ExpectedVersion, [anEvent()], { commandId: 'c' }],
      ['an event without eventId', 's-1', 'any', [anEvent(), anEvent({ eventId: undefined as unknown as string })], { commandId: 'c' }],
      ['an event without type', 's-1', 'any', [anEvent({ type: '' })], { commandId: 'c' }],
      ['a schemaVersion of 0', 's-1', 'any', [anEvent({ schemaVersion: 0 })], { commandId: 'c' }],
      ['an occurredAt that is not a time', 's-1', 'any', [anEvent({ occurredAt: 'yesterday-ish' })], { commandId: 'c' }],
      ['no data', 's-1', 'any', [anEvent({ data: undefined })], { commandId: 'c' }],
    ];
    it.each(bad)('rejects %s and appends nothing', async (_what, streamId, expected, events, options) => {
      await ctx.store.append('s-0', 'no-stream', [anEvent()], command());
      const error = await ctx.store.append(streamId, expected, events, options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidAppendError);
      expect(error).toMatchObject({ code: 'INVALID_APPEND' });
      expect(await readWholeLog(ctx.store)).toHaveLength(1);
    });
  });
}
