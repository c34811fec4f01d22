import type { EventEnvelope } from '@strata/domain';
import type { Subscription } from './port.js';

/** Wakes live subscribers when this process appends; they also poll, for appends by other processes. */
export class LiveSignal {
  private waiters = new Set<() => void>();
  notify(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }
  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.waiters.add(wake);
    });
  }
  close(): void {
    this.notify();
  }
}

/** Catch-up then live: pages through the log from `after`, then waits for new events. */
export function pollingSubscription(
  after: number,
  readPage: (cursor: number) => Promise<EventEnvelope[]>,
  live: LiveSignal,
  pollIntervalMs: number,
): Subscription {
  let closed = false;
  let cursor = after;
  const wake = new LiveSignal();
  return {
    async close() {
      closed = true;
      wake.notify();
    },
    async *[Symbol.asyncIterator]() {
      while (!closed) {
        const page = await readPage(cursor);
        if (page.length === 0) {
          await Promise.race([live.wait(pollIntervalMs), wake.wait(pollIntervalMs)]);
          continue;
        }
        for (const event of page) {
          if (closed) return;
          cursor = event.position;
          yield event;
        }
      }
    },
  };
}
