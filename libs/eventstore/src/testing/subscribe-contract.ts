import { describe, expect, it } from 'vitest';
import type { ContractContext } from './contract-context.js';
import { anEvent, command, consume, isStrictlyIncreasing, readWholeLog, waitUntil, within } from './contract-fixtures.js';

/** Live delivery: catch up from a position, then follow, until closed. */
export function subscribeContract(ctx: ContractContext): void {
  describe('subscribe', () => {
    it('catches up from a position, then delivers live events in order, and close() ends the iteration', async () => {
      for (let i = 0; i < 5; i++) await ctx.store.append(`s-${i % 2}`, 'any', [anEvent({ data: { i } })], command());
      const history = await ctx.store.readAll();
      const subscription = ctx.store.subscribe(history[1].position);
      const seen = consume(subscription);
      await waitUntil(() => seen.events.length === 3, 'the three events after the start position');
      expect(seen.events).toStrictEqual(history.slice(2));

      // Live: sent at once (several in one batch where the adapter batches), several streams, multi-event appends.
      await Promise.all(
        Array.from({ length: 12 }, (_, i) => ctx.store.append(`s-live-${i % 4}`, 'any', [anEvent(), anEvent()], command())),
      );
      await waitUntil(() => seen.events.length === 3 + 24, 'the 24 live events');
      expect(seen.events).toStrictEqual((await readWholeLog(ctx.store)).slice(2));
      expect(isStrictlyIncreasing(seen.events.map((e) => e.position))).toBe(true);

      await subscription.close();
      await within(seen.finished, 5000, 'the iteration to end after close()');
      await ctx.store.append('s-after-close', 'any', [anEvent()], command());
      expect(seen.events).toHaveLength(27);
    });

    it('from 0 on an empty log, waits for the first event', async () => {
      const subscription = ctx.store.subscribe(0);
      const seen = consume(subscription);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(seen.events).toEqual([]);
      const result = await ctx.store.append('s-1', 'no-stream', [anEvent()], command());
      await waitUntil(() => seen.events.length === 1, 'the first event');
      expect(seen.events).toStrictEqual(result.events);
      await subscription.close();
      await within(seen.finished, 5000, 'the iteration to end after close()');
    });

    it('close() ends a subscription that is waiting for events, promptly', async () => {
      await ctx.store.append('s-1', 'no-stream', [anEvent()], command());
      const subscription = ctx.store.subscribe(await ctx.store.head());
      const seen = consume(subscription);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = Date.now();
      await subscription.close();
      await within(seen.finished, 5000, 'the iteration to end after close()');
      expect(Date.now() - started).toBeLessThan(500);
      expect(seen.events).toEqual([]);
    });

    it('closing the store ends its subscriptions without an error', async () => {
      const subscription = ctx.store.subscribe(0);
      const seen = consume(subscription);
      await ctx.store.append('s-1', 'no-stream', [anEvent()], command());
      await waitUntil(() => seen.events.length === 1, 'the event');
      await ctx.store.close();
      await within(seen.finished, 5000, 'the iteration to end after the store closed');
    });

    it('two subscriptions from different positions each get their own events', async () => {
      const first = await ctx.store.append('s-1', 'no-stream', [anEvent(), anEvent()], command());
      const subscriptions = [ctx.store.subscribe(0), ctx.store.subscribe(first.position)];
      const [fromStart, fromFirst] = subscriptions.map(consume);
      const second = await ctx.store.append('s-1', 2, [anEvent()], command());
      await waitUntil(() => fromStart.events.length === 3 && fromFirst.events.length === 1, 'both subscriptions');
      expect(fromStart.events).toStrictEqual([...first.events, ...second.events]);
      expect(fromFirst.events).toStrictEqual(second.events);
      await subscriptions[0].close();
      await within(fromStart.finished, 5000, 'the first subscription to end');
      await ctx.store.append('s-1', 3, [anEvent()], command());
      await waitUntil(() => fromFirst.events.length === 2, 'the other subscription, still open');
      expect(fromStart.events).toHaveLength(3);
      await subscriptions[1].close();
      await within(fromFirst.finished, 5000, 'the second subscription to end');
    });
  });
}
