import { openEventStore, type EventStoreConfig } from '../open-event-store.js';
import type { EventStore } from '../port.js';
import type { EventStoreFactory } from './contract-context.js';

/**
 * A contract factory for any adapter `openEventStore` knows: `newStorage` makes fresh storage
 * (a temp file, a uniquely named JetStream stream) and says how to delete it.
 */
export function factoryFromConfig(newStorage: () => Promise<{ config: EventStoreConfig; destroy(): Promise<void> }>): EventStoreFactory {
  return {
    async create({ upcasters }) {
      const { config, destroy } = await newStorage();
      const opened: EventStore[] = [];
      const open = async () => {
        const store = await openEventStore(config, { upcasters });
        opened.push(store);
        return store;
      };
      return {
        store: await open(),
        reopen: open,
        childConfig: config,
        async cleanup() {
          for (const store of opened) await store.close();
          await destroy();
        },
      };
    },
  };
}
