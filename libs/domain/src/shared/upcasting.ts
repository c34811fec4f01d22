import type { EventEnvelope } from './envelope.js';

/** Lifts one event type's payload from `fromVersion` to `fromVersion + 1`. Pure. */
export interface Upcaster {
  type: string;
  fromVersion: number;
  upcast(data: unknown): unknown;
}

/**
 * Applies upcasters on read, one version step at a time, until no upcaster matches. The log itself is
 * never rewritten: an old event stays old on disk and is seen in its current shape by every reader.
 */
export class UpcasterChain {
  private readonly steps = new Map<string, Upcaster>();

  constructor(upcasters: Iterable<Upcaster> = []) {
    for (const u of upcasters) {
      const key = `${u.type}@${u.fromVersion}`;
      if (this.steps.has(key)) throw new Error(`two upcasters for ${key}`);
      this.steps.set(key, u);
    }
  }

  upcast<T>(event: EventEnvelope<T>): EventEnvelope<T> {
    let current: EventEnvelope<unknown> = event;
    for (let guard = 0; guard < 1000; guard++) {
      const step = this.steps.get(`${current.type}@${current.schemaVersion}`);
      if (!step) return current as EventEnvelope<T>;
      current = { ...current, schemaVersion: current.schemaVersion + 1, data: step.upcast(current.data) };
    }
    throw new Error(`upcaster loop for ${event.type}`);
  }
}
