import type { EventEnvelope } from '@strata/domain';
import type { Subscription } from './port.js';

/** Wakes live subscribers when this process appends; they also poll, for appends by other processes. */
export class LiveSignal {
  private waiters = new Set<() => void>();
  private generation = 0;
  private ended = false;

  /**
   * Changes on every notify. A reader takes it before reading the log and waits only if it is
   * unchanged afterwards, so an append that lands while the read is in flight is never slept through.
   */
  get version(): number {
    return this.generation;
  }

  get closed(): boolean {
    return this.ended;
  }

  notify(): void {
    this.generation += 1;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Calls `wake` once, on the next notify or close; returns a function that cancels it. */
  onNext(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  /** Resolves on the next notify (at once if one happened since `seen`), on close, or after timeoutMs. */
  wait(timeoutMs: number, seen = this.generation): Promise<void> {
    return sleepUntilWoken([{ signal: this, seen }], timeoutMs);
  }

  /** Wakes every waiter for good: subscriptions on a closed store end instead of polling it. */
  close(): void {
    this.ended = true;
    this.notify();
  }
}

/**
 * One timer and one waiter per signal, all removed on the first wake: waiting on several signals
 * this way leaves no stale timers that keep the process alive or waiters that pile up.
 */
function sleepUntilWoken(signals: Array<{ signal: LiveSignal; seen: number }>, timeoutMs: number): Promise<void> {
  if (signals.some(({ signal, seen }) => signal.closed || signal.version !== seen)) return Promise.resolve();
  return new Promise((resolve) => {
    const cancels: Array<() => void> = [];
    const done = () => {
      clearTimeout(timer);
      for (const cancel of cancels) cancel();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    for (const { signal } of signals) cancels.push(signal.onNext(done));
  });
}

/**
 * Catch-up then live: pages through the log from `after`, then waits for new events (woken by
 * `live` for this process's appends, by the poll timer for other writers'). Ends when closed or
 * when `live` is closed (the store was closed).
 */
export function pollingSubscription(
  after: number,
  readPage: (cursor: number) => Promise<EventEnvelope[]>,
  live: LiveSignal,
  pollIntervalMs: number,
): Subscription {
  let cursor = after;
  const stop = new LiveSignal();
  const ended = () => stop.closed || live.closed;
  return {
    async close() {
      stop.close();
    },
    async *[Symbol.asyncIterator]() {
      while (!ended()) {
        const seen = live.version;
        const page = await readPage(cursor);
        if (page.length === 0) {
          await sleepUntilWoken([{ signal: live, seen }, { signal: stop, seen: stop.version }], pollIntervalMs);
          continue;
        }
        for (const event of page) {
          if (ended()) return;
          cursor = event.position;
          yield event;
        }
      }
    },
  };
}
