import { randomUUID } from 'node:crypto';
import type { EventEnvelope, ProposedEvent } from '@strata/domain';
import type { EventStore, Subscription } from '../port.js';

let counter = 0;

/** A valid proposed event; every test event differs (ids, data) unless the test says otherwise. */
export function anEvent(overrides: Partial<ProposedEvent> = {}): ProposedEvent {
  counter += 1;
  return {
    eventId: randomUUID(),
    type: 'ProbeHappened',
    schemaVersion: 1,
    occurredAt: '2024-05-01T10:00:00.000Z',
    actor: 'user:alice',
    correlationId: `corr-${counter}`,
    causationId: null,
    nodeId: 'node-a',
    data: { n: counter },
    ...overrides,
  };
}

export const command = (commandId: string = randomUUID()) => ({ commandId });

/** What the store must give back for a proposed event once it is stored. */
export function stored(
  e: ProposedEvent,
  at: { streamId: string; version: number; commandId: string; position: number },
): EventEnvelope {
  return { ...e, ...at };
}

/** The whole log, page by page; bounded so a store that never stops paging fails instead of hanging. */
export async function readWholeLog(store: EventStore, pageSize = 1000, maxEvents = 1_000_000): Promise<EventEnvelope[]> {
  const all: EventEnvelope[] = [];
  for (let after = 0; all.length <= maxEvents; ) {
    const page = await store.readAll({ after, limit: pageSize });
    if (page.length === 0) return all;
    all.push(...page);
    after = page[page.length - 1].position;
  }
  throw new Error(`the log has more than ${maxEvents} events, or paging does not advance`);
}

/** Iterates a subscription in the background, keeping what it delivers and how it ended. */
export function consume(subscription: Subscription) {
  const events: EventEnvelope[] = [];
  const finished = (async () => {
    for await (const event of subscription) events.push(event);
  })();
  finished.catch(() => {}); // observed by whoever awaits `finished`; not an unhandled rejection meanwhile
  return { events, finished };
}

export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function isStrictlyIncreasing(values: number[]): boolean {
  return values.every((v, i) => i === 0 || v > values[i - 1]);
}
