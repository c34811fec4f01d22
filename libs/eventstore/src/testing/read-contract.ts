import type { EventEnvelope } from '@strata/domain';
import { describe, expect, it } from 'vitest';
import type { ContractContext } from './contract-context.js';
import { anEvent, command, consume, waitUntil, within } from './contract-fixtures.js';

/** Reading: paging the global log, slicing a stream, head, time, upcasting. */
export function readContract(ctx: ContractContext): void {
  /** Ten events over two streams, interleaved one append at a time. */
  async function tenEvents(): Promise<EventEnvelope[]> {
    for (let i = 0; i < 10; i++) await ctx.store.append(i % 2 === 0 ? 's-even' : 's-odd', 'any', [anEvent({ data: { i } })], command());
    return ctx.store.readAll();
  }

  describe('readAll', () => {
    it('is empty on an empty log', async () => {
      expect(await ctx.store.readAll()).toEqual([]);
      expect(await ctx.store.readAll({ after: 5 })).toEqual([]);
    });

    it('pages with after and limit, each page following the last', async () => {
      const all = await tenEvents();
      expect(all.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const pages: EventEnvelope[][] = [];
      for (let after = 0, guard = 0; guard < 20; guard++) {
        const page = await ctx.store.readAll({ after, limit: 3 });
        if (page.length === 0) break;
        pages.push(page);
        after = page[page.length - 1].position;
      }
      expect(pages.map((p) => p.length)).toEqual([3, 3, 3, 1]);
      expect(pages.flat()).toStrictEqual(all);
      expect(await ctx.store.readAll({ after: all[4].position })).toStrictEqual(all.slice(5));
      expect(await ctx.store.readAll({ after: all[9].position })).toEqual([]);
    });

    it('stops at until (inclusive), also combined with after and limit', async () => {
      const all = await tenEvents();
      expect(await ctx.store.readAll({ until: all[4].position })).toStrictEqual(all.slice(0, 5));
      expect(await ctx.store.readAll({ after: all[1].position, until: all[6].position })).toStrictEqual(all.slice(2, 7));
      expect(await ctx.store.readAll({ after: all[1].position, until: all[6].position, limit: 2 })).toStrictEqual(all.slice(2, 4));
      expect(await ctx.store.readAll({ after: all[6].position, until: all[6].position })).toEqual([]);
    });
  });

  describe('readStream', () => {
    it('reads after a version and up to a global position', async () => {
      const all = await tenEvents();
      const even = all.filter((e) => e.streamId === 's-even');
      expect(await ctx.store.readStream('s-even')).toStrictEqual(even);
      expect(await ctx.store.readStream('s-even', { afterVersion: 2 })).toStrictEqual(even.slice(2));
      expect(await ctx.store.readStream('s-even', { afterVersion: 5 })).toEqual([]);
      // all[5] belongs to s-odd: up to it, s-even has its events at all[0], all[2], all[4].
      expect(await ctx.store.readStream('s-even', { untilPosition: all[5].position })).toStrictEqual(even.slice(0, 3));
      expect(await ctx.store.readStream('s-even', { afterVersion: 1, untilPosition: all[6].position })).toStrictEqual(even.slice(1, 4));
    });
  });

  describe('head and positionAt', () => {
    it('head is 0 on an empty log, then the last position', async () => {
      expect(await ctx.store.head()).toBe(0);
      const all = await tenEvents();
      expect(await ctx.store.head()).toBe(all[9].position);
    });

    it('positionAt gives the last position that occurred at or before a time', async () => {
      expect(await ctx.store.positionAt('2024-05-01T10:00:00.000Z')).toBe(0);
      const times = ['2024-05-01T10:00:00.000Z', '2024-05-01T10:30:00.000Z', '2024-05-01T11:00:00.000Z'];
      const positions: number[] = [];
      for (const occurredAt of times) positions.push((await ctx.store.append('s-t', 'any', [anEvent({ occurredAt })], command())).position);

      expect(await ctx.store.positionAt('2024-05-01T09:59:59.999Z')).toBe(0);
      expect(await ctx.store.positionAt('2024-05-01T10:00:00.000Z')).toBe(positions[0]);
      expect(await ctx.store.positionAt('2024-05-01T10:29:59.999Z')).toBe(positions[0]);
      expect(await ctx.store.positionAt('2024-05-01T10:30:00Z')).toBe(positions[1]);
      expect(await ctx.store.positionAt('2024-05-01T12:45:00+02:00')).toBe(positions[1]); // 10:45 UTC
      expect(await ctx.store.positionAt('2030-01-01T00:00:00.000Z')).toBe(positions[2]);
      await expect(ctx.store.positionAt('not a time')).rejects.toThrow();
    });
  });

  describe('upcasting on read', () => {
    it('an old RepositoryCreated (v1, isPublic) is read as v2 (visibility) everywhere; current events pass unchanged', async () => {
      const v1Public = anEvent({ type: 'RepositoryCreated', schemaVersion: 1, data: { name: 'acme/web', isPublic: true } });
      const v1Private = anEvent({ type: 'RepositoryCreated', schemaVersion: 1, data: { name: 'acme/db', isPublic: false } });
      const v2 = anEvent({ type: 'RepositoryCreated', schemaVersion: 2, data: { name: 'acme/api', visibility: 'public' } });
      await ctx.store.append('repository-web', 'no-stream', [v1Public], command('cmd-web'));
      await ctx.store.append('repository-db', 'no-stream', [v1Private], command('cmd-db'));
      await ctx.store.append('repository-api', 'no-stream', [v2], command('cmd-api'));

      const [web] = await ctx.store.readStream('repository-web');
      expect(web).toMatchObject({ eventId: v1Public.eventId, schemaVersion: 2, data: { name: 'acme/web', visibility: 'public' } });
      expect(web.data).toStrictEqual({ name: 'acme/web', visibility: 'public' });
      const all = await ctx.store.readAll();
      expect(all.map((e) => [e.schemaVersion, e.data])).toStrictEqual([
        [2, { name: 'acme/web', visibility: 'public' }],
        [2, { name: 'acme/db', visibility: 'private' }],
        [2, { name: 'acme/api', visibility: 'public' }],
      ]);
      expect((await ctx.store.readCommand('cmd-db'))[0].data).toStrictEqual({ name: 'acme/db', visibility: 'private' });

      const subscription = ctx.store.subscribe(0);
      const seen = consume(subscription);
      await waitUntil(() => seen.events.length === 3, 'three events from the subscription');
      expect(seen.events).toStrictEqual(all);
      await subscription.close();
      await within(seen.finished, 5000, 'the subscription to end');
    });
  });
}
