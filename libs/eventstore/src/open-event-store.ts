import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { UpcasterChain } from '@strata/domain';
import type { EventStore } from './port.js';
import { SQLITE_SYNCHRONOUS, SqliteEventStore, type SqliteSynchronous } from './sqlite/sqlite-event-store.js';

export interface SqliteEventStoreConfig {
  kind: 'sqlite';
  /** strata.db; its folder is created if missing. */
  path: string;
  synchronous?: SqliteSynchronous;
  pollIntervalMs?: number;
}

/**
 * Where an event log lives, as plain JSON: what the app reads from its configuration and what a test
 * hands to a child process. Each adapter adds its own `kind` (the JetStream one: url, stream).
 */
export type EventStoreConfig = SqliteEventStoreConfig;

/** What cannot travel as JSON: code the reader applies. */
export interface OpenEventStoreOptions {
  upcasters?: UpcasterChain;
}

/** Opens the event log a config describes, whichever adapter it names. */
export async function openEventStore(config: EventStoreConfig, options: OpenEventStoreOptions = {}): Promise<EventStore> {
  const checked = parseEventStoreConfig(config);
  switch (checked.kind) {
    case 'sqlite':
      if (checked.path !== ':memory:') mkdirSync(dirname(checked.path), { recursive: true });
      return new SqliteEventStore({ ...checked, upcasters: options.upcasters });
  }
}

/** Checks a config that came from outside the type system (JSON, environment) before it is used. */
export function parseEventStoreConfig(value: unknown): EventStoreConfig {
  if (typeof value !== 'object' || value === null) throw new TypeError('event store config must be an object');
  const config = value as Record<string, unknown>;
  if (config.kind !== 'sqlite') throw new TypeError(`unknown event store kind: ${String(config.kind)}`);
  if (typeof config.path !== 'string' || config.path.length === 0) throw new TypeError('sqlite event store config needs a path');
  if (config.synchronous !== undefined && !SQLITE_SYNCHRONOUS.includes(config.synchronous as SqliteSynchronous)) {
    throw new TypeError(`synchronous must be one of ${SQLITE_SYNCHRONOUS.join(', ')}`);
  }
  if (config.pollIntervalMs !== undefined && !(Number.isSafeInteger(config.pollIntervalMs) && (config.pollIntervalMs as number) > 0)) {
    throw new TypeError('pollIntervalMs must be a positive integer');
  }
  return {
    kind: 'sqlite',
    path: config.path,
    synchronous: config.synchronous as SqliteSynchronous | undefined,
    pollIntervalMs: config.pollIntervalMs as number | undefined,
  };
}
