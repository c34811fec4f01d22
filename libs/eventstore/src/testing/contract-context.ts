import type { UpcasterChain } from '@strata/domain';
import { afterEach, beforeEach } from 'vitest';
import type { EventStoreConfig } from '../open-event-store.js';
import type { EventStore } from '../port.js';

/** One fresh, empty, isolated log, and the ways to get at it again. */
export interface EventStoreUnderTest {
  store: EventStore;
  /** A new store on the same storage, as after a restart or a crash (`store` may be closed or its process dead). */
  reopen(): Promise<EventStore>;
  /** What `openEventStore` in another process needs to open the same storage: plain JSON. */
  childConfig: EventStoreConfig;
  /** Closes every store opened on this storage (already closed ones too) and deletes the storage. */
  cleanup(): Promise<void>;
}

/** How the contract suite gets storage from an adapter. Stores are opened with the upcasters given. */
export interface EventStoreFactory {
  create(options: { upcasters: UpcasterChain }): Promise<EventStoreUnderTest>;
}

/** What each part of the suite sees: the current test's log. */
export interface ContractContext {
  readonly t: EventStoreUnderTest;
  readonly store: EventStore;
}

export function contractContext(factory: EventStoreFactory, upcasters: () => UpcasterChain): ContractContext {
  let current: EventStoreUnderTest | undefined;
  beforeEach(async () => {
    current = await factory.create({ upcasters: upcasters() });
  });
  afterEach(async () => {
    await current?.cleanup();
    current = undefined;
  });
  return {
    get t() {
      if (!current) throw new Error('no store: the contract suite only runs inside its own tests');
      return current;
    },
    get store() {
      return this.t.store;
    },
  };
}
