import { domainUpcasters } from '@strata/domain';
import { describe } from 'vitest';
import { appendContract } from './append-contract.js';
import { concurrencyContract } from './concurrency-contract.js';
import { contractContext, type EventStoreFactory } from './contract-context.js';
import { durabilityContract } from './durability-contract.js';
import { readContract } from './read-contract.js';
import { subscribeContract } from './subscribe-contract.js';

export type { EventStoreFactory, EventStoreUnderTest } from './contract-context.js';

/**
 * The behaviour every EventStore adapter must have, as one suite: call it from the adapter's spec
 * with a factory that hands out fresh, isolated storage. Stores are opened with the domain's
 * upcasters, as the app opens them.
 */
export function eventStoreContract(name: string, factory: EventStoreFactory): void {
  describe(`EventStore contract: ${name}`, () => {
    const ctx = contractContext(factory, domainUpcasters);
    appendContract(ctx);
    concurrencyContract(ctx);
    readContract(ctx);
    subscribeContract(ctx);
    durabilityContract(ctx);
  });
}
