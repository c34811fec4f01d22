import type { EventEnvelope } from '@strata/domain';
import { describe, expect, it } from 'vitest';
import { LiveSignal, pollingSubscription } from './subscription.js';
import { consume, waitUntil, within } from './testing/contract-fixtures.js';

const eventAt = (position: number) => ({ position }) as EventEnvelope;
const HOUR = 3_600_000;

/** A log in memory whose reads take a while, like a remote store's. */
function slowLog(delayMs: number) {
  const events: EventEnvelope[] = [];
  const live = new LiveSignal();
  return {
    events,
    live,
    append(position: number) {
      events.push(eventAt(position));
      live.notify();
    },
    async readPage(cursor: number) {
      const snapshot = events.filter((e) => e.position > cursor); // what the read sees when it starts
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return snapshot;
    },
  };
}

describe('pollingSubscription', () => {
  it('does not sleep through an append that lands while a read is in flight', async () => {
    const log = slowLog(50);
    const subscription = pollingSubscription(0, (c) => log.readPage(c), log.live, HOUR);
    const seen = consume(subscription);
    await new Promise((resolve) => setTimeout(resolve, 10)); // the first read is in flight, empty
    log.append(1);
    await waitUntil(() => seen.events.length === 1, 'the event appended during the read', 2000);
    expect(seen.events).toEqual([eventAt(1)]);
    await subscription.close();
    await within(seen.finished, 1000, 'the iteration to end');
  });

  it('close() and closing the live signal both end a waiting iteration at once', async () => {
    const log = slowLog(0);
    const a = pollingSubscription(0, (c) => log.readPage(c), log.live, HOUR);
    const b = pollingSubscription(0, (c) => log.readPage(c), log.live, HOUR);
    const [seenA, seenB] = [consume(a), consume(b)];
    log.append(1);
    await waitUntil(() => seenA.events.length === 1 && seenB.events.length === 1, 'both subscriptions');
    await a.close();
    await within(seenA.finished, 1000, 'close() to end the iteration');
    log.append(2);
    await waitUntil(() => seenB.events.length === 2, 'the open subscription');
    expect(seenA.events).toEqual([eventAt(1)]);
    log.live.close();
    await within(seenB.finished, 1000, 'the store closing to end the iteration');
  });

  it('LiveSignal.wait resolves at once if a notify happened since the version it was given', async () => {
    const live = new LiveSignal();
    const seen = live.version;
    live.notify();
    await within(live.wait(HOUR, seen), 1000, 'an already-notified wait');
  });
});
